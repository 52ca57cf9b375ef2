package dev.splitrt.vision;

import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.bytedeco.opencv.opencv_core.Mat;

/**
 * The images of one folder ({@code *.jpg}, {@code *.jpeg}, {@code *.png}, any case), sorted by file
 * name, decoded to BGR. An undecodable file fails the read with its name: evaluation frames must
 * not vanish silently, or the accuracy figures would be computed over a different set.
 */
final class FolderReader implements FrameReader {
  private final Path dir;
  private final List<Path> files;
  private int next;

  FolderReader(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      throw new NoSuchFileException(dir.toString(), null, "no such folder; check the path of the image folder");
    }
    if (!Files.isDirectory(dir)) {
      throw new NotDirectoryException(dir + ": not a folder; dir: needs a folder of *.jpg/*.jpeg/*.png images");
    }
    this.dir = dir;
    try (Stream<Path> s = Files.list(dir)) {
      this.files = s.filter(FolderReader::isImage).filter(Files::isRegularFile).sorted(
          (a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString())).toList();
    }
    if (files.isEmpty()) {
      throw new IOException(dir + ": no *.jpg, *.jpeg or *.png files in this folder; point dir: at the images");
    }
  }

  private static boolean isImage(Path p) {
    String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
    return n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".png");
  }

  int size() {
    return files.size();
  }

  @Override
  public Mat read() throws IOException {
    if (next >= files.size()) return null;
    Path f = files.get(next);
    Mat m = imread(f.toString(), IMREAD_COLOR);
    if (m.empty()) {
      m.close();
      throw new IOException(f + ": cannot be decoded as a JPEG/PNG image (image " + next + " of " + files.size()
          + " in the folder); replace or remove the file — frames are not skipped silently");
    }
    next++;
    return m;
  }

  @Override
  public void rewind() {
    next = 0;
  }

  @Override
  public boolean live() {
    return false;
  }

  @Override
  public String describe() {
    return "folder " + dir + " (" + files.size() + " images)";
  }

  @Override
  public void close() {
    next = files.size();
  }
}
