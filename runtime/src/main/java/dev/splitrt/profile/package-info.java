/** Device profiles: one YAML per device class (Jetson boards, CPU dev box, server GPU), validated at load. */
package dev.splitrt.profile;
