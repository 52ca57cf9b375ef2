package dev.splitrt.vision;

/**
 * How a source image was mapped onto the network input: {@code inputX = srcX * scaleX + padX}.
 * Stretch resizing has {@code scaleX != scaleY} and no padding; letterboxing one scale and padding.
 * The tail runner uses it to map boxes back to source pixels.
 */
public record ImageTransform(int sourceWidth, int sourceHeight, double scaleX, double scaleY, double padX, double padY) {

  public double toSourceX(double inputX) {
    return clamp((inputX - padX) / scaleX, sourceWidth);
  }

  public double toSourceY(double inputY) {
    return clamp((inputY - padY) / scaleY, sourceHeight);
  }

  private static double clamp(double v, int max) {
    return Math.max(0, Math.min(max, v));
  }
}
