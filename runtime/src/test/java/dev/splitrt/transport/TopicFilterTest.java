package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TopicFilterTest {

  @Test
  void matchesLikeAnMqttBroker() {
    assertThat(TopicFilter.of("a/b").matches("a/b")).isTrue();
    assertThat(TopicFilter.of("a/b").matches("a/b/c")).isFalse();
    assertThat(TopicFilter.of("a/+").matches("a/b")).isTrue();
    assertThat(TopicFilter.of("a/+").matches("a/b/c")).isFalse();
    assertThat(TopicFilter.of("a/#").matches("a")).isTrue();
    assertThat(TopicFilter.of("a/#").matches("a/b/c")).isTrue();
    assertThat(TopicFilter.of("#").matches("a/b")).isTrue();
    assertThat(TopicFilter.of("+/+").matches("/x")).isTrue();
    assertThat(TopicFilter.of("#").matches("$SYS/broker/uptime")).isFalse();
    assertThat(TopicFilter.of("+/broker/uptime").matches("$SYS/broker/uptime")).isFalse();
    assertThat(TopicFilter.of("$SYS/#").matches("$SYS/broker/uptime")).isTrue();
    assertThat(TopicFilter.of("$share/g/a/+").matches("a/b")).isTrue();
  }

  @Test
  void isAValue() {
    TopicFilter shared = TopicFilter.of(Topics.sharedFeatures("g", "f"));
    assertThat(shared.group()).isEqualTo("g");
    assertThat(shared.value()).isEqualTo("$share/g/splitrt/v1/f/+/features/+");
    assertThat(shared).isEqualTo(TopicFilter.of(shared.value())).hasSameHashCodeAs(TopicFilter.of(shared.value()));
    assertThat(TopicFilter.of("a/+").group()).isNull();
    assertThat(shared.matches(Topics.features("f", "cam-1", "m"))).isTrue();
    assertThat(shared.matches(Topics.results("f", "cam-1", "m"))).isFalse();
  }

  @Test
  void rejectsMisplacedWildcardsAndBadSharedFilters() {
    assertThatThrownBy(() -> TopicFilter.of("a/#/b")).hasMessageContaining("misplaces a wildcard");
    assertThatThrownBy(() -> TopicFilter.of("a/b+")).hasMessageContaining("misplaces a wildcard");
    assertThatThrownBy(() -> TopicFilter.of("$share//a")).hasMessageContaining("$share/<group>/<filter>");
    assertThatThrownBy(() -> TopicFilter.of("$share/g/")).hasMessageContaining("$share/<group>/<filter>");
    assertThatThrownBy(() -> TopicFilter.of("")).hasMessageContaining("empty");
    assertThatCode(() -> TopicFilter.of(Topics.sharedFeatures("g", "f"))).doesNotThrowAnyException();
  }

  @Test
  void publishTopicsHaveNoWildcards() {
    assertThatThrownBy(() -> MqttLink.checkTopic("a/+")).hasMessageContaining("no wildcards");
    assertThatThrownBy(() -> MqttLink.checkTopic("a/#")).hasMessageContaining("no wildcards");
    assertThat(MqttLink.checkTopic("a/é")).isEqualTo(4);
  }
}
