package dev.splitrt.infer;

/** A model part could not be loaded or run; the message names the file and what to do. */
public class InferenceException extends Exception {
  public InferenceException(String message) {
    super(message);
  }

  public InferenceException(String message, Throwable cause) {
    super(message, cause);
  }
}
