package dev.splitrt.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.stream.Collectors;

/**
 * The one way SplitRT reads its YAML files (daemon configs, device profiles) into typed records:
 * snake_case keys, unknown keys rejected, errors that name the file, the line and the field.
 */
public final class Yaml {
  private static final ObjectMapper MAPPER =
      new ObjectMapper(new YAMLFactory())
          .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

  private Yaml() {}

  public static ObjectMapper mapper() {
    return MAPPER;
  }

  public static <T> T read(Path file, Class<T> type) throws ConfigException {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(file + ": file not found; check the path");
    } catch (IOException e) {
      throw new ConfigException(file + ": cannot read (" + e.getMessage() + ")", e);
    }
    return parse(text, file.toString(), type);
  }

  public static <T> T parse(String text, String origin, Class<T> type) throws ConfigException {
    try {
      T value = MAPPER.readValue(text, type);
      if (value == null) throw new ConfigException(origin + ": the file is empty; see the documented example");
      return value;
    } catch (UnrecognizedPropertyException e) {
      throw new ConfigException(
          origin + at(e.getLocation()) + ": unknown field '" + e.getPropertyName() + "' in " + path(e)
              + "; known fields: " + e.getKnownPropertyIds().stream().map(String::valueOf).sorted().collect(Collectors.joining(", ")),
          e);
    } catch (InvalidFormatException e) {
      throw new ConfigException(
          origin + at(e.getLocation()) + ": field " + path(e) + " has value '" + e.getValue() + "', which is not a valid "
              + describe(e.getTargetType()),
          e);
    } catch (MismatchedInputException e) {
      throw new ConfigException(origin + at(e.getLocation()) + ": field " + path(e) + ": " + e.getOriginalMessage(), e);
    } catch (JsonProcessingException e) {
      throw new ConfigException(origin + at(e.getLocation()) + ": malformed YAML: " + e.getOriginalMessage(), e);
    }
  }

  private static String at(JsonLocation loc) {
    return loc == null || loc.getLineNr() < 0 ? "" : ":" + loc.getLineNr() + ":" + loc.getColumnNr();
  }

  private static String path(MismatchedInputException e) {
    String p = e.getPath().stream()
        .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
        .collect(Collectors.joining("."))
        .replace(".[", "[");
    return p.isEmpty() ? "(top level)" : "'" + p + "'";
  }

  private static String describe(Class<?> type) {
    if (type.isEnum()) {
      StringBuilder sb = new StringBuilder("value; use one of:");
      for (Object c : type.getEnumConstants()) sb.append(' ').append(c.toString().toLowerCase());
      return sb.toString();
    }
    return type.getSimpleName();
  }
}
