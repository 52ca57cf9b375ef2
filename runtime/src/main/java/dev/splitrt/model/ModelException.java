package dev.splitrt.model;

/**
 * A model folder cannot be used: its manifest, a file, a checksum or an ONNX graph is wrong. Exists so
 * callers can tell a broken model (fix the folder) from an I/O or runtime problem; the message names
 * the file, what was expected and found, and the fix.
 */
public final class ModelException extends Exception {
  public ModelException(String message) {
    super(message);
  }

  public ModelException(String message, Throwable cause) {
    super(message, cause);
  }
}
