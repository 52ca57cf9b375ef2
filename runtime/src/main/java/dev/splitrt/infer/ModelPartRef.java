package dev.splitrt.infer;

import java.nio.file.Path;

/** What a backend needs to open a model part: the verified file and its expected signature. */
public record ModelPartRef(String modelId, String part, Path file, String sha256, TensorSpec input, TensorSpec output) {}
