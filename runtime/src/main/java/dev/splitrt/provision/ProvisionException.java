package dev.splitrt.provision;

/**
 * A provisioning step failed for a reason the operator can fix (a tampered bundle, a missing CA, a
 * clashing device id). The message names the file or value and the fix; it never contains key material.
 */
public final class ProvisionException extends Exception {
  public ProvisionException(String message) {
    super(message);
  }

  public ProvisionException(String message, Throwable cause) {
    super(message, cause);
  }
}
