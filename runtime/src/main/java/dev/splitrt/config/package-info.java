/** Typed, validated configuration: the YAML reader every config goes through, and the daemons' config records. */
package dev.splitrt.config;
