package dev.splitrt.transport;

/**
 * A SplitRT topic taken apart by {@link Topics#parse}, so a tail runner learns which device and model
 * a message came from without string surgery of its own.
 *
 * <p>{@code kind} is one of {@link #FEATURES}, {@link #RESULTS}, {@link #STATUS}, {@link #DEADLETTER}.
 * {@code device} is null for a dead-letter topic; {@code model} is null for status and dead-letter topics.
 */
public record TopicParts(String fleet, String device, String kind, String model) {
  public static final String FEATURES = "features";
  public static final String RESULTS = "results";
  public static final String STATUS = "status";
  public static final String DEADLETTER = "deadletter";
}
