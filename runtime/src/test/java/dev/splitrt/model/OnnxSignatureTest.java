package dev.splitrt.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OnnxSignatureTest {
  static final Path ZOO = ModelRegistryTest.ZOO;

  @TempDir Path tmp;

  @ParameterizedTest(name = "{0}/{1}")
  @CsvSource({
      "fs-bottlefit-cls, head.onnx, image, 1:3:224:224, bottleneck, 1:8:28:28",
      "fs-bottlefit-cls, tail.onnx, bottleneck, 1:8:28:28, logits, 1:10",
      "fs-bottlefit-cls, full.onnx, image, 1:3:224:224, logits, 1:10",
      "fs-leyolo-nano-det, head.onnx, image, 1:3:320:320, bottleneck, 1:8:40:40",
      "fs-leyolo-nano-det, tail.onnx, bottleneck, 1:8:40:40, detections, 1:2100:14",
      "fs-leyolo-nano-det, full.onnx, image, 1:3:320:320, detections, 1:2100:14"})
  void readsTheZooSignatures(String model, String file, String in, String inShape, String out, String outShape) throws Exception {
    OnnxSignature sig = OnnxSignature.read(ZOO.resolve(model).resolve(file));
    assertThat(sig.inputs).hasSize(1);
    assertThat(sig.outputs).hasSize(1);
    assertThat(sig.inputs.get(0).matches(in, shape(inShape))).as(sig.inputs.get(0).describe()).isTrue();
    assertThat(sig.outputs.get(0).matches(out, shape(outShape))).as(sig.outputs.get(0).describe()).isTrue();
  }

  @Test
  void rejectsTruncatedCopiesOfARealModel() throws Exception {
    byte[] full = Files.readAllBytes(ZOO.resolve("fs-bottlefit-cls/head.onnx"));
    Path cut = tmp.resolve("cut.onnx");
    for (int len : new int[] {0, 1, 2, 3, 16, 100, 1000, full.length / 2, full.length - 100, full.length - 1}) {
      Files.write(cut, Arrays.copyOf(full, len));
      assertThatThrownBy(() -> OnnxSignature.read(cut))
          .as("cut at %d of %d bytes", len, full.length)
          .isInstanceOf(ModelException.class)
          .hasMessageStartingWith(cut + ": not a readable ONNX model")
          .hasMessageContaining("fix: restore the file");
    }
  }

  @Test
  void rejectsGarbageBytes() throws Exception {
    Path junk = tmp.resolve("junk.onnx");
    Random random = new Random(42);
    for (int i = 0; i < 200; i++) {
      byte[] bytes = new byte[1 + random.nextInt(4096)];
      random.nextBytes(bytes);
      Files.write(junk, bytes);
      assertThatThrownBy(() -> OnnxSignature.read(junk)).as("garbage #%d", i)
          .isInstanceOf(ModelException.class).hasMessageContaining(junk.toString());
    }
    Files.writeString(junk, "this is not protobuf\n");
    assertThatThrownBy(() -> OnnxSignature.read(junk)).isInstanceOf(ModelException.class);
  }

  @Test
  void flippedBytesEitherParseOrFailCleanly() throws Exception {
    byte[] original = Files.readAllBytes(ZOO.resolve("fs-leyolo-nano-det/head.onnx"));
    Path damaged = tmp.resolve("damaged.onnx");
    Random random = new Random(7);
    int rejected = 0;
    for (int i = 0; i < 150; i++) {
      byte[] bytes = original.clone();
      // Damage the structure-heavy start and end of the file (graph header, inputs, outputs).
      for (int k = 0; k < 4; k++) {
        int at = random.nextBoolean() ? random.nextInt(256) : bytes.length - 1 - random.nextInt(2048);
        bytes[at] = (byte) random.nextInt(256);
      }
      Files.write(damaged, bytes);
      try {
        OnnxSignature.read(damaged);
      } catch (ModelException e) {
        rejected++;
        assertThat(e).hasMessageContaining(damaged.toString());
      } catch (RuntimeException e) {
        fail("damaged copy #" + i + " crashed the reader instead of a ModelException", e);
      }
    }
    assertThat(rejected).as("most damaged headers are detected").isGreaterThan(10);
  }

  @Test
  void rejectsForgedHugeLengthsWithoutAllocating() throws Exception {
    Path forged = tmp.resolve("forged.onnx");
    // ir_version 8, then graph (field 7) claiming 2^40 bytes.
    Files.write(forged, concat(varintField(1, 8), tag(7, 2), varint(1L << 40)));
    assertThatThrownBy(() -> OnnxSignature.read(forged))
        .hasMessageContaining("declares 1099511627776 bytes but its enclosing message has 0 left");
    // A value-info name claiming 1 GiB inside an otherwise well-formed graph.
    byte[] valueInfo = concat(tag(1, 2), varint(1L << 30));
    Files.write(forged, concat(varintField(1, 8), bytesField(7, bytesField(11, valueInfo))));
    assertThatThrownBy(() -> OnnxSignature.read(forged)).isInstanceOf(ModelException.class).hasMessageContaining("declares");
    // A long, legal-length name over the reader's bound.
    byte[] longName = new byte[70_000];
    Arrays.fill(longName, (byte) 'a');
    Files.write(forged, concat(varintField(1, 8), bytesField(7, bytesField(11, bytesField(1, longName)))));
    assertThatThrownBy(() -> OnnxSignature.read(forged)).hasMessageContaining("a name of 70000 bytes");
  }

  @Test
  void excludesInitializersFromInputsAndKeepsSymbolicDims() throws Exception {
    byte[] dims = concat(bytesField(1, bytesField(2, "batch".getBytes(StandardCharsets.UTF_8))), bytesField(1, varintField(1, 4)));
    byte[] tensorType = concat(varintField(1, 1), bytesField(2, dims));
    byte[] x = concat(bytesField(1, "x".getBytes(StandardCharsets.UTF_8)), bytesField(2, bytesField(1, tensorType)));
    byte[] w = concat(bytesField(1, "w".getBytes(StandardCharsets.UTF_8)), bytesField(2, bytesField(1, tensorType)));
    byte[] y = concat(bytesField(1, "y".getBytes(StandardCharsets.UTF_8)));
    byte[] initializer = concat(varintField(1, 4), varintField(2, 1), bytesField(9, new byte[16]),
        bytesField(8, "w".getBytes(StandardCharsets.UTF_8)));
    byte[] graph = concat(bytesField(5, initializer), bytesField(11, x), bytesField(11, w), bytesField(12, y));
    Path file = tmp.resolve("tiny.onnx");
    Files.write(file, concat(varintField(1, 8), bytesField(7, graph), bytesField(8, varintField(2, 17))));

    OnnxSignature sig = OnnxSignature.read(file);
    assertThat(sig.inputs).extracting(OnnxSignature.Value::name).containsExactly("x");
    assertThat(sig.inputs.get(0).describe()).isEqualTo("'x' float[batch, 4]");
    assertThat(sig.inputs.get(0).matches("x", List.of(1, 4))).isFalse();
    assertThat(sig.outputs.get(0).describe()).isEqualTo("'y' non-tensor[unknown rank]");
  }

  @Test
  void rejectsAFileWithoutAGraph() throws Exception {
    Path file = tmp.resolve("nograph.onnx");
    Files.write(file, concat(varintField(1, 8), bytesField(2, "pytorch".getBytes(StandardCharsets.UTF_8))));
    assertThatThrownBy(() -> OnnxSignature.read(file)).hasMessageContaining("no graph (ModelProto field 7)");
  }

  private static List<Integer> shape(String s) {
    return Arrays.stream(s.split(":")).map(Integer::valueOf).toList();
  }

  // ---- a tiny protobuf encoder for hand-made graphs ----

  private static byte[] varint(long v) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    while ((v & ~0x7fL) != 0) {
      out.write((int) ((v & 0x7f) | 0x80));
      v >>>= 7;
    }
    out.write((int) v);
    return out.toByteArray();
  }

  private static byte[] tag(int field, int wire) {
    return varint(((long) field << 3) | wire);
  }

  private static byte[] varintField(int field, long v) {
    return concat(tag(field, 0), varint(v));
  }

  private static byte[] bytesField(int field, byte[] payload) {
    return concat(tag(field, 2), varint(payload.length), payload);
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) out.writeBytes(p);
    return out.toByteArray();
  }
}
