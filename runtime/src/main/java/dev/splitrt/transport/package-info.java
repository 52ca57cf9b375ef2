/**
 * MQTT 5 transport on Eclipse Paho: the topic scheme, a connection that retries (first connect too)
 * with exponential backoff and jitter, and an outbox that keeps every accepted message until the
 * broker acknowledged it.
 */
package dev.splitrt.transport;
