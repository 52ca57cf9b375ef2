package dev.splitrt.eval;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TopOneAccuracyTest {

  @Test
  void countsTheShareOfCorrectFrames() {
    TopOneAccuracy a = new TopOneAccuracy();
    assertThat(a.value()).isNaN();
    a.add(3, 3);
    a.add(1, 2);
    a.add(0, 0);
    a.add(4, 5);
    assertThat(a.count()).isEqualTo(4);
    assertThat(a.value()).isEqualTo(0.5);
  }
}
