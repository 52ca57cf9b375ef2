/**
 * Device provisioning: a fleet CA (EC P-256), per-device and per-tail-runner client certificates,
 * the broker's ACL and CRL, signed device bundles, their verified install with rollback, and a
 * round trip through the broker with the device's own identity. See runtime/docs/provisioning.md.
 */
package dev.splitrt.provision;
