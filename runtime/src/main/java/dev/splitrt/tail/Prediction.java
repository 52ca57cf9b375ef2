package dev.splitrt.tail;

/**
 * What the tail runner publishes for one frame, whatever the model's task: a closed set so that the
 * result encoder and the evaluators can switch over it exhaustively.
 */
public sealed interface Prediction permits Classification, Detections {}
