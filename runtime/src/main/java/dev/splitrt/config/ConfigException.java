package dev.splitrt.config;

/** A configuration file or value is wrong. The message names the file, the field and the fix. */
public class ConfigException extends Exception {
  public ConfigException(String message) {
    super(message);
  }

  public ConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
