package dev.splitrt.transport;

import java.util.regex.Pattern;

/**
 * The SplitRT v1 topic scheme in one place, so devices, tail runners and broker ACLs agree:
 * <pre>
 * splitrt/v1/&lt;fleet&gt;/&lt;device&gt;/features/&lt;model&gt;   FeatureFrame, QoS 1
 * splitrt/v1/&lt;fleet&gt;/&lt;device&gt;/results/&lt;model&gt;    result JSON
 * splitrt/v1/&lt;fleet&gt;/&lt;device&gt;/status             retained; the last will says offline
 * splitrt/v1/&lt;fleet&gt;/deadletter                  what a tail rejected and why
 * $share/&lt;group&gt;/splitrt/v1/&lt;fleet&gt;/+/features/+  the tail runners' shared subscription
 * </pre>
 * Every segment must match {@code [A-Za-z0-9_.-]+}: no '/', '+', '#', spaces or empty names, so a
 * device id can never widen a subscription or an ACL pattern.
 */
public final class Topics {
  static final String ROOT = "splitrt/v1";
  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9_.-]+");

  private Topics() {}

  public static String features(String fleet, String device, String model) {
    return ROOT + "/" + seg("fleet", fleet) + "/" + seg("device", device) + "/" + TopicParts.FEATURES + "/" + seg("model", model);
  }

  public static String results(String fleet, String device, String model) {
    return ROOT + "/" + seg("fleet", fleet) + "/" + seg("device", device) + "/" + TopicParts.RESULTS + "/" + seg("model", model);
  }

  public static String status(String fleet, String device) {
    return ROOT + "/" + seg("fleet", fleet) + "/" + seg("device", device) + "/" + TopicParts.STATUS;
  }

  public static String deadLetter(String fleet) {
    return ROOT + "/" + seg("fleet", fleet) + "/" + TopicParts.DEADLETTER;
  }

  /** The filter every tail runner of {@code group} subscribes to: the broker hands each message to one of them. */
  public static String sharedFeatures(String group, String fleet) {
    return "$share/" + seg("group", group) + "/" + ROOT + "/" + seg("fleet", fleet) + "/+/" + TopicParts.FEATURES + "/+";
  }

  /** Filter: every model's features of one device ({@code .../<device>/features/+}). */
  public static String deviceFeatures(String fleet, String device) {
    return ROOT + "/" + seg("fleet", fleet) + "/" + seg("device", device) + "/" + TopicParts.FEATURES + "/+";
  }

  /** Filter: every model's results for one device ({@code .../<device>/results/+}), what a device may read. */
  public static String deviceResults(String fleet, String device) {
    return ROOT + "/" + seg("fleet", fleet) + "/" + seg("device", device) + "/" + TopicParts.RESULTS + "/+";
  }

  /** Filter: every device's features in a fleet, not shared ({@code .../+/features/+}). */
  public static String fleetFeatures(String fleet) {
    return ROOT + "/" + seg("fleet", fleet) + "/+/" + TopicParts.FEATURES + "/+";
  }

  /** Filter: every device's results in a fleet ({@code .../+/results/+}). */
  public static String fleetResults(String fleet) {
    return ROOT + "/" + seg("fleet", fleet) + "/+/" + TopicParts.RESULTS + "/+";
  }

  /**
   * An ACL pattern, not a subscription: the shared feature subscription of any group ({@code $share/+/...}), which the
   * tail role may take and no device role may.
   */
  public static String sharedFeaturesOfAnyGroup(String fleet) {
    return "$share/+/" + fleetFeatures(fleet);
  }

  /**
   * Takes a concrete topic (as a message arrives on it, no wildcards, no {@code $share/} prefix) apart.
   *
   * @throws IllegalArgumentException naming the topic and what is wrong when it is not a SplitRT v1 topic
   */
  public static TopicParts parse(String topic) {
    if (topic == null) {
      throw new IllegalArgumentException("topic is null");
    }
    String[] p = topic.split("/", -1);
    if (p.length < 4 || !p[0].equals("splitrt") || !p[1].equals("v1")) {
      throw new IllegalArgumentException("topic '" + topic + "' is not a SplitRT topic: it must start with " + ROOT + "/<fleet>/");
    }
    for (int i = 2; i < p.length; i++) {
      if (!SEGMENT.matcher(p[i]).matches()) {
        throw new IllegalArgumentException("topic '" + topic + "' has segment " + (i + 1) + " '" + p[i]
            + "' that is not [A-Za-z0-9_.-]+");
      }
    }
    String fleet = p[2];
    if (p.length == 4 && p[3].equals(TopicParts.DEADLETTER)) {
      return new TopicParts(fleet, null, TopicParts.DEADLETTER, null);
    }
    if (p.length == 5 && p[4].equals(TopicParts.STATUS)) {
      return new TopicParts(fleet, p[3], TopicParts.STATUS, null);
    }
    if (p.length == 6 && (p[4].equals(TopicParts.FEATURES) || p[4].equals(TopicParts.RESULTS))) {
      return new TopicParts(fleet, p[3], p[4], p[5]);
    }
    throw new IllegalArgumentException("topic '" + topic + "' is not one of " + ROOT
        + "/<fleet>/<device>/{features,results}/<model>, .../<device>/status or " + ROOT + "/<fleet>/deadletter");
  }

  private static String seg(String what, String value) {
    if (value == null || !SEGMENT.matcher(value).matches()) {
      throw new IllegalArgumentException(what + " '" + value + "' cannot be a topic segment: use [A-Za-z0-9_.-]+ "
          + "(no '/', '+', '#', spaces; not empty)");
    }
    return value;
  }
}
