package dev.splitrt.transport;

import java.util.List;

/**
 * An MQTT topic filter, validated once (wildcards only as whole levels, {@code #} only last; a shared subscription as
 * {@code $share/<group>/<filter>} with a group name without wildcards) and matched as a broker matches it (a
 * {@code $}-topic is not matched by a leading wildcard). Built by {@link #of}; {@link MqttLink} keeps its subscriptions
 * as these, so a malformed filter is refused where it is written, not by the broker later.
 */
public final class TopicFilter {
  private final String value;
  private final String group;
  private final List<String> levels;

  private TopicFilter(String value, String group, List<String> levels) {
    this.value = value;
    this.group = group;
    this.levels = levels;
  }

  /** @throws IllegalArgumentException naming the filter and the rule it breaks */
  public static TopicFilter of(String filter) {
    if (filter == null || filter.isEmpty()) {
      throw new IllegalArgumentException("topic filter is empty; build it with Topics");
    }
    String f = filter;
    String group = null;
    if (f.startsWith("$share/")) {
      int slash = f.indexOf('/', 7);
      group = slash < 0 ? "" : f.substring(7, slash);
      if (group.isEmpty() || group.contains("+") || group.contains("#") || slash == f.length() - 1) {
        throw new IllegalArgumentException("shared subscription '" + filter + "' must be $share/<group>/<filter> "
            + "with a group name without wildcards; use Topics.sharedFeatures");
      }
      f = f.substring(slash + 1);
    }
    List<String> levels = List.of(f.split("/", -1));
    for (int i = 0; i < levels.size(); i++) {
      String l = levels.get(i);
      if ((l.contains("#") && (!l.equals("#") || i != levels.size() - 1)) || (l.contains("+") && !l.equals("+"))) {
        throw new IllegalArgumentException("topic filter '" + filter + "' misplaces a wildcard: '+' must fill a whole "
            + "level and '#' must be the whole last level");
      }
    }
    return new TopicFilter(filter, group, levels);
  }

  /** Whether a message published on {@code topic} reaches this filter (for a shared filter: its group). */
  public boolean matches(String topic) {
    String[] tp = topic.split("/", -1);
    boolean system = topic.startsWith("$");
    for (int i = 0; i < levels.size(); i++) {
      String l = levels.get(i);
      if (l.equals("#")) return !(i == 0 && system);
      if (i >= tp.length) return false;
      if (l.equals("+")) {
        if (i == 0 && system) return false;
      } else if (!l.equals(tp[i])) {
        return false;
      }
    }
    return levels.size() == tp.length;
  }

  /** The shared subscription's group, or null for an ordinary filter. */
  public String group() {
    return group;
  }

  /** The filter as written, {@code $share/} prefix included: what SUBSCRIBE carries. */
  public String value() {
    return value;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TopicFilter t && t.value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }

  @Override
  public String toString() {
    return value;
  }
}
