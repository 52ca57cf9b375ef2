/** Frame sources (image folder, MJPEG AVI, V4L2 camera, raw frames on a pipe) and the preprocessing that turns a frame into the head's input tensor. */
package dev.splitrt.vision;
