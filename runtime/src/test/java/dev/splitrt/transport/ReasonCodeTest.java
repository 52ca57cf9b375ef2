package dev.splitrt.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ReasonCodeTest {
  @Test
  void everyNamedCodeIsDistinctAndRoundTrips() {
    assertThat(Arrays.stream(ReasonCode.values()).map(ReasonCode::value).distinct().count()).isEqualTo(ReasonCode.values().length);
    for (ReasonCode c : ReasonCode.values()) assertThat(ReasonCode.of(c.value())).isEqualTo(c);
    assertThat(ReasonCode.of(0x87)).isEqualTo(ReasonCode.NOT_AUTHORIZED);
    assertThat(ReasonCode.of(0x95)).isEqualTo(ReasonCode.PACKET_TOO_LARGE);
    assertThat(ReasonCode.of(0x42)).isEqualTo(ReasonCode.OTHER);
  }

  @Test
  void wordsAndFixesNameTheCodeOrSayWhereToLook() {
    assertThat(ReasonCode.word(0x97)).isEqualTo("quota_exceeded");
    assertThat(ReasonCode.word(0x9C)).as("an unnamed code keeps its number").isEqualTo("reason_0x9c");
    assertThat(ReasonCode.word(PublishRejectedException.CONNECTION_DROPPED)).isEqualTo("connection_dropped");
    assertThat(ReasonCode.publishFix(0x87)).contains("ACL");
    assertThat(ReasonCode.subscribeFix(0x87)).contains("read the topic");
    assertThat(ReasonCode.subscribeFix(0x9E)).contains("shared subscriptions");
    assertThat(ReasonCode.subscribeFix(0x95)).as("a code with no subscribe meaning").isEqualTo("see the broker's log");
    assertThat(ReasonCode.publishFix(0x9E)).contains("MQTT 5 specification");
    assertThat(ReasonCode.refuses(0x80)).isTrue();
    assertThat(ReasonCode.refuses(0x10)).as("0x10 no matching subscribers is a success").isFalse();
  }

  @Test
  void aRejectionCarriesTheEnumAndTheNumber() {
    PublishRejectedException e = new PublishRejectedException("t", 0x87, "refused");
    assertThat(e.code()).isEqualTo(ReasonCode.NOT_AUTHORIZED);
    assertThat(e.reasonCode()).isEqualTo(0x87);
    assertThat(e.reason()).isEqualTo("not_authorized");
  }
}
