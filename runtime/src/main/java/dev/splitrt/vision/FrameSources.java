package dev.splitrt.vision;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Opens a {@link FrameSource} from one string, so every daemon, command and config names its input
 * the same way. URIs are parsed strictly: an unknown scheme or option, a missing or malformed value
 * is an {@link IllegalArgumentException} listing the valid forms, before anything is opened.
 *
 * <pre>
 * PATH                                        a folder of images, or an MJPEG .avi file
 * dir:PATH                                    a folder: *.jpg|*.jpeg|*.png sorted by name, decoded BGR
 * file:PATH.avi                               an MJPEG AVI file (OpenCV's built-in reader)
 * v4l2:///dev/video0[?width=W&amp;height=H&amp;fps=F]   a V4L2 camera; the options are asked of the driver
 * pipe:stdin?width=W&amp;height=H[&amp;format=bgr|rgb|gray]   raw frames on standard input
 * pipe:/path/to/fifo?width=W&amp;height=H[&amp;format=..]  raw frames from a FIFO (or a file)
 * folder and file options: loop=N   play the source N times in all (0 = forever; default 1)
 *                          fps=F    pace it like a camera at F frames/s: then live() is true
 * </pre>
 *
 * <p>Only MJPEG AVI files can be read: the OpenCV build has no FFmpeg and no GStreamer; convert other
 * videos with {@code ffmpeg -i IN -c:v mjpeg -q:v 3 -an OUT.avi}. A camera OpenCV cannot reach
 * through V4L2 comes in through a pipe: {@code width*height*channels} bytes per frame, back to back,
 * no header; a clean end of stream ends the source, a partial last frame is an error. A Jetson CSI
 * camera (libargus), for example:
 *
 * <pre>
 * mkfifo /tmp/cam.bgr
 * gst-launch-1.0 -q nvarguscamerasrc sensor-id=0 \
 *   ! 'video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1' \
 *   ! nvvidconv ! video/x-raw,format=BGRx ! videoconvert ! video/x-raw,format=BGR \
 *   ! fdsink fd=1 &gt; /tmp/cam.bgr &amp;
 * # source: pipe:/tmp/cam.bgr?width=1280&amp;height=720&amp;format=bgr
 * </pre>
 *
 * (or {@code gst-launch-1.0 -q ... ! fdsink | <edge> } with {@code pipe:stdin?...}; keep {@code -q}, or
 * gst-launch writes its progress lines into the pixel stream). Opening a FIFO blocks until its writer
 * opens it. The width and height must be those of the caps after {@code videoconvert}.
 */
public final class FrameSources {
  static final String FORMS = String.join("\n  ",
      "valid sources:",
      "PATH                                           a folder of *.jpg/*.jpeg/*.png images, or an MJPEG .avi file",
      "dir:PATH                                       a folder of images",
      "file:PATH.avi                                  an MJPEG AVI file",
      "v4l2:///dev/videoN[?width=W&height=H&fps=F]    a V4L2 camera",
      "pipe:stdin?width=W&height=H[&format=bgr|rgb|gray]   raw frames on standard input",
      "pipe:/path/to/fifo?width=W&height=H[&format=bgr|rgb|gray]",
      "options of folder and file sources: loop=N (play N times in all, 0 = forever), fps=F (pace like a camera)");

  static final int MAX_SIDE = 16384;
  private static final Pattern SCHEME = Pattern.compile("([A-Za-z][A-Za-z0-9+.-]+):(.*)", Pattern.DOTALL);
  private static final Set<String> FILE_OPTIONS = Set.of("loop", "fps");
  private static final Set<String> CAMERA_OPTIONS = Set.of("width", "height", "fps");
  private static final Set<String> PIPE_OPTIONS = Set.of("width", "height", "format");
  private static final Set<String> OTHER_VIDEO =
      Set.of(".mp4", ".mkv", ".mov", ".webm", ".h264", ".h265", ".hevc", ".ts", ".mpg", ".mpeg", ".m4v", ".flv", ".wmv");

  private FrameSources() {}

  /** What a source URI says, checked but not yet opened. */
  enum Kind { FOLDER, AVI, V4L2, PIPE }

  record Spec(Kind kind, String target, int loop, double fps, int width, int height, PipeReader.Format format) {}

  /** Opens the source named by {@code uri} (forms in the class comment). */
  public static FrameSource open(String uri) throws IOException {
    Spec s = parse(uri);
    FrameReader reader = switch (s.kind()) {
      case FOLDER -> new FolderReader(Path.of(s.target()));
      case AVI -> new AviReader(Path.of(s.target()));
      case V4L2 -> new V4l2Reader(Path.of(s.target()), s.width(), s.height(), s.fps());
      case PIPE -> openPipe(s);
    };
    double pace = s.kind() == Kind.FOLDER || s.kind() == Kind.AVI ? s.fps() : 0;
    return new ReaderSource(reader, s.loop(), pace, Clock.systemUTC());
  }

  private static FrameReader openPipe(Spec s) throws IOException {
    if (s.target().equals("stdin")) {
      return new PipeReader(System.in, false, "stdin", s.width(), s.height(), s.format());
    }
    Path p = Path.of(s.target());
    InputStream in;
    try {
      in = Files.newInputStream(p);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(p.toString(), null,
          "no such pipe; create it with `mkfifo " + p + "` and start the writer (e.g. gst-launch-1.0 ... ! fdsink)");
    }
    return new PipeReader(in, true, p.toString(), s.width(), s.height(), s.format());
  }

  static Spec parse(String uri) {
    if (uri == null || uri.isBlank()) throw bad("an empty source", uri);
    int q = uri.indexOf('?');
    String base = q < 0 ? uri : uri.substring(0, q);
    Map<String, String> opts = q < 0 ? Map.of() : options(uri, uri.substring(q + 1));
    Matcher m = SCHEME.matcher(base);
    if (!m.matches()) return pathSpec(uri, base, opts);
    String scheme = m.group(1);
    String rest = m.group(2);
    switch (scheme) {
      case "dir" -> {
        return fileSpec(uri, Kind.FOLDER, nonEmpty(uri, rest, "dir: needs a folder path"), opts);
      }
      case "file" -> {
        String path = nonEmpty(uri, rest, "file: needs a path to an .avi file");
        if (!lower(path).endsWith(".avi")) {
          throw bad("file: reads MJPEG .avi files only (this OpenCV build has no FFmpeg or GStreamer; "
              + AviReader.CONVERT_HINT + ")", uri);
        }
        return fileSpec(uri, Kind.AVI, path, opts);
      }
      case "v4l2" -> {
        if (!rest.startsWith("///") || rest.length() == 3) {
          throw bad("a camera is written v4l2:///dev/videoN (three slashes, then the device path)", uri);
        }
        allow(uri, opts, CAMERA_OPTIONS, "a camera");
        int w = side(uri, opts, "width", false);
        int h = side(uri, opts, "height", false);
        return new Spec(Kind.V4L2, rest.substring(2), 1, fps(uri, opts), w, h, null);
      }
      case "pipe" -> {
        String target = nonEmpty(uri, rest, "pipe: needs stdin or the path of a FIFO");
        allow(uri, opts, PIPE_OPTIONS, "a pipe (it is paced by its writer and cannot be rewound)");
        int w = side(uri, opts, "width", true);
        int h = side(uri, opts, "height", true);
        return new Spec(Kind.PIPE, target, 1, 0, w, h, format(uri, opts));
      }
      default -> throw bad("unknown scheme '" + scheme + ":' (write dir:PATH or ./PATH for a path holding a colon)", uri);
    }
  }

  private static Spec pathSpec(String uri, String path, Map<String, String> opts) {
    String l = lower(path);
    if (l.endsWith(".avi")) return fileSpec(uri, Kind.AVI, path, opts);
    for (String ext : OTHER_VIDEO) {
      if (l.endsWith(ext)) {
        throw bad("only MJPEG .avi videos can be read (this OpenCV build has no FFmpeg or GStreamer); "
            + AviReader.CONVERT_HINT, uri);
      }
    }
    return fileSpec(uri, Kind.FOLDER, path, opts);
  }

  private static Spec fileSpec(String uri, Kind kind, String path, Map<String, String> opts) {
    allow(uri, opts, FILE_OPTIONS, kind == Kind.FOLDER ? "a folder" : "a file");
    String loop = opts.get("loop");
    int passes = loop == null ? 1 : integer(uri, "loop", loop, 0, Integer.MAX_VALUE);
    return new Spec(kind, path, passes, fps(uri, opts), 0, 0, null);
  }

  private static Map<String, String> options(String uri, String query) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String pair : query.split("&", -1)) {
      int eq = pair.indexOf('=');
      if (eq <= 0 || eq == pair.length() - 1) {
        throw bad("option '" + pair + "' is not written name=value", uri);
      }
      String key = pair.substring(0, eq);
      if (out.put(key, pair.substring(eq + 1)) != null) throw bad("option '" + key + "' is given twice", uri);
    }
    return out;
  }

  private static void allow(String uri, Map<String, String> opts, Set<String> allowed, String what) {
    for (String k : opts.keySet()) {
      if (!allowed.contains(k)) {
        throw bad("unknown option '" + k + "' for " + what + "; its options are " + String.join(", ",
            allowed.stream().sorted().toList()), uri);
      }
    }
  }

  private static int side(String uri, Map<String, String> opts, String key, boolean required) {
    String v = opts.get(key);
    if (v == null) {
      if (required) throw bad("option " + key + " is required (the pixel size of each raw frame)", uri);
      return 0;
    }
    return integer(uri, key, v, 1, MAX_SIDE);
  }

  private static double fps(String uri, Map<String, String> opts) {
    String v = opts.get("fps");
    if (v == null) return 0;
    double f;
    try {
      f = Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw bad("fps=" + v + " is not a number", uri);
    }
    if (!(f > 0 && f <= 1000)) throw bad("fps=" + v + " is out of range; use a number in (0, 1000]", uri);
    return f;
  }

  private static PipeReader.Format format(String uri, Map<String, String> opts) {
    String v = opts.getOrDefault("format", "bgr");
    return switch (v) {
      case "bgr" -> PipeReader.Format.BGR;
      case "rgb" -> PipeReader.Format.RGB;
      case "gray" -> PipeReader.Format.GRAY;
      default -> throw bad("format=" + v + " is unknown; use bgr, rgb or gray", uri);
    };
  }

  private static int integer(String uri, String key, String v, int min, int max) {
    long n;
    try {
      n = Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw bad(key + "=" + v + " is not a whole number", uri);
    }
    if (n < min || n > max) throw bad(key + "=" + v + " is out of range; use " + min + ".." + max, uri);
    return (int) n;
  }

  private static String nonEmpty(String uri, String v, String message) {
    if (v.isEmpty()) throw bad(message, uri);
    return v;
  }

  private static String lower(String s) {
    return s.toLowerCase(Locale.ROOT);
  }

  private static IllegalArgumentException bad(String what, String uri) {
    return new IllegalArgumentException("source '" + uri + "': " + what + "\n  " + FORMS);
  }
}
