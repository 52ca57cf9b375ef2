package dev.splitrt.transport;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Child JVM for {@link LastWillIT}: connects with a will, publishes "online" (retained), prints READY
 * and waits to be killed with SIGKILL, so the broker sees a dead TCP connection and no DISCONNECT.
 * Arguments: url clientId statusTopic.
 */
final class WillChild {
  private WillChild() {}

  public static void main(String[] args) throws Exception {
    String url = args[0];
    String topic = args[2];
    MqttLink.Will will = new MqttLink.Will(topic, "{\"state\":\"offline\"}".getBytes(StandardCharsets.UTF_8), true);
    MqttLink link = MqttLink.start(Inbox.fast(url, args[1]), will);
    if (!link.awaitConnected(Duration.ofSeconds(20))) {
      System.out.println("NOT CONNECTED");
      System.exit(2);
    }
    link.publish(topic, "{\"state\":\"online\"}".getBytes(StandardCharsets.UTF_8), 1, true).get();
    System.out.println("READY");
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
