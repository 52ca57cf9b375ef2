/** Measuring a model through the runtime path: evaluation labels, top-1 accuracy and COCO-style mAP. */
package dev.splitrt.eval;
