/**
 * The server-side tail runner: shared MQTT 5 subscription → decode (strict) → head-hash check →
 * tail inference → post-processing → result JSON. Rejected features go to the dead-letter topic
 * with their reason, and the runner keeps going.
 */
package dev.splitrt.tail;
