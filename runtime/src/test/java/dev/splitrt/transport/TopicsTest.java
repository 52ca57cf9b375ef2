package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TopicsTest {

  @Test
  void buildsTheV1Scheme() {
    assertThat(Topics.features("fleet-a", "jetson-01", "bottlefit")).isEqualTo("splitrt/v1/fleet-a/jetson-01/features/bottlefit");
    assertThat(Topics.results("fleet-a", "jetson-01", "leyolo_nano")).isEqualTo("splitrt/v1/fleet-a/jetson-01/results/leyolo_nano");
    assertThat(Topics.status("fleet-a", "jetson-01")).isEqualTo("splitrt/v1/fleet-a/jetson-01/status");
    assertThat(Topics.deadLetter("fleet-a")).isEqualTo("splitrt/v1/fleet-a/deadletter");
    assertThat(Topics.deviceFeatures("fleet-a", "jetson-01")).isEqualTo("splitrt/v1/fleet-a/jetson-01/features/+");
    assertThat(Topics.deviceResults("fleet-a", "jetson-01")).isEqualTo("splitrt/v1/fleet-a/jetson-01/results/+");
    assertThat(Topics.fleetFeatures("fleet-a")).isEqualTo("splitrt/v1/fleet-a/+/features/+");
    assertThat(Topics.fleetResults("fleet-a")).isEqualTo("splitrt/v1/fleet-a/+/results/+");
    assertThat(Topics.sharedFeaturesOfAnyGroup("fleet-a")).isEqualTo("$share/+/splitrt/v1/fleet-a/+/features/+");
    // a wildcard smuggled in as a device id must not widen a filter or an ACL pattern
    assertThatThrownBy(() -> Topics.deviceResults("fleet-a", "+")).hasMessageContaining("device '+'");
    assertThatThrownBy(() -> Topics.fleetFeatures("#")).hasMessageContaining("fleet '#'");
    assertThat(Topics.sharedFeatures("tails", "fleet-a")).isEqualTo("$share/tails/splitrt/v1/fleet-a/+/features/+");
  }

  @Test
  void parsesWhatItBuilds() {
    assertThat(Topics.parse(Topics.features("f", "d.1", "m-2")))
        .isEqualTo(new TopicParts("f", "d.1", TopicParts.FEATURES, "m-2"));
    assertThat(Topics.parse(Topics.results("f", "d", "m"))).isEqualTo(new TopicParts("f", "d", "results", "m"));
    assertThat(Topics.parse(Topics.status("f", "d"))).isEqualTo(new TopicParts("f", "d", "status", null));
    assertThat(Topics.parse(Topics.deadLetter("f"))).isEqualTo(new TopicParts("f", null, "deadletter", null));
  }

  @Test
  void sharedFilterMatchesEveryDevicesFeaturesButNotResults() {
    String filter = Topics.sharedFeatures("g", "f");
    assertThat(TopicFilter.of(filter).matches(Topics.features("f", "d1", "m"))).isTrue();
    assertThat(TopicFilter.of(filter).matches(Topics.features("f", "d2", "other"))).isTrue();
    assertThat(TopicFilter.of(filter).matches(Topics.results("f", "d1", "m"))).isFalse();
    assertThat(TopicFilter.of(filter).matches(Topics.features("other", "d1", "m"))).isFalse();
  }

  @Test
  void rejectsSegmentsThatWouldWidenASubscription() {
    for (String bad : new String[] {"a/b", "+", "#", "dev#1", "", "with space", "ü"}) {
      assertThatThrownBy(() -> Topics.features("f", bad, "m"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("device '" + bad + "'")
          .hasMessageContaining("[A-Za-z0-9_.-]+");
    }
    assertThatThrownBy(() -> Topics.status(null, "d")).hasMessageContaining("fleet 'null'");
    assertThatThrownBy(() -> Topics.sharedFeatures("g/h", "f")).hasMessageContaining("group 'g/h'");
    assertThatThrownBy(() -> Topics.results("f", "d", "m+")).hasMessageContaining("model 'm+'");
  }

  @Test
  void parseRejectsForeignAndMalformedTopicsNamingThem() {
    assertThatThrownBy(() -> Topics.parse("other/v1/f/d/status"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'other/v1/f/d/status'");
    assertThatThrownBy(() -> Topics.parse("splitrt/v2/f/d/status")).hasMessageContaining("splitrt/v1/<fleet>/");
    assertThatThrownBy(() -> Topics.parse("splitrt/v1/f/d/telemetry/m")).hasMessageContaining("is not one of");
    assertThatThrownBy(() -> Topics.parse("splitrt/v1/f/d/features")).hasMessageContaining("is not one of");
    assertThatThrownBy(() -> Topics.parse("splitrt/v1/f/+/features/m")).hasMessageContaining("segment 4 '+'");
    assertThatThrownBy(() -> Topics.parse("splitrt/v1/f//status")).hasMessageContaining("segment 4 ''");
    assertThatThrownBy(() -> Topics.parse("splitrt/v1/f/d/features/m/extra")).hasMessageContaining("is not one of");
  }
}
