/** The model zoo: manifests ({@code model.yaml}), their validation against the ONNX files, and the registry over {@code models/}. */
package dev.splitrt.model;
