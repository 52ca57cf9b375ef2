package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TopicFilterTest {

  @Test
  void matchesLikeAnMqttBroker() {
    assertThat(MqttLink.matches("a/b", "a/b")).isTrue();
    assertThat(MqttLink.matches("a/b", "a/b/c")).isFalse();
    assertThat(MqttLink.matches("a/+", "a/b")).isTrue();
    assertThat(MqttLink.matches("a/+", "a/b/c")).isFalse();
    assertThat(MqttLink.matches("a/#", "a")).isTrue();
    assertThat(MqttLink.matches("a/#", "a/b/c")).isTrue();
    assertThat(MqttLink.matches("#", "a/b")).isTrue();
    assertThat(MqttLink.matches("+/+", "/x")).isTrue();
    assertThat(MqttLink.matches("#", "$SYS/broker/uptime")).isFalse();
    assertThat(MqttLink.matches("+/broker/uptime", "$SYS/broker/uptime")).isFalse();
    assertThat(MqttLink.matches("$SYS/#", "$SYS/broker/uptime")).isTrue();
    assertThat(MqttLink.matches("$share/g/a/+", "a/b")).isTrue();
  }

  @Test
  void rejectsMisplacedWildcardsAndBadSharedFilters() {
    assertThatThrownBy(() -> MqttLink.checkFilter("a/#/b")).hasMessageContaining("misplaces a wildcard");
    assertThatThrownBy(() -> MqttLink.checkFilter("a/b+")).hasMessageContaining("misplaces a wildcard");
    assertThatThrownBy(() -> MqttLink.checkFilter("$share//a")).hasMessageContaining("$share/<group>/<filter>");
    assertThatThrownBy(() -> MqttLink.checkFilter("$share/g/")).hasMessageContaining("$share/<group>/<filter>");
    assertThatThrownBy(() -> MqttLink.checkFilter("")).hasMessageContaining("empty");
    assertThatCode(() -> MqttLink.checkFilter(Topics.sharedFeatures("g", "f"))).doesNotThrowAnyException();
  }

  @Test
  void publishTopicsHaveNoWildcards() {
    assertThatThrownBy(() -> MqttLink.checkTopic("a/+")).hasMessageContaining("no wildcards");
    assertThatThrownBy(() -> MqttLink.checkTopic("a/#")).hasMessageContaining("no wildcards");
    assertThat(MqttLink.checkTopic("a/é")).isEqualTo(4);
  }
}
