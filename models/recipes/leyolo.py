"""LeYOLO-nano (320x320) for SplitRT, written here from the paper's description (Hollard et al. 2024).

Parts:
  * ``InvertedBottleneck``: optional 1x1 expand -> kxk depthwise (stride s) -> 1x1 linear projection,
    residual when the input and output shapes match.
  * ``LeYOLONano``: backbone 16/2, 16/4, 32/8 (x2), 64/16 (x5), 96/32 (x4) + SPPF; an FPAN neck
    (top-down then bottom-up fusion over strides 8/16/32); a DNiN-style decoupled head per level
    (depthwise + pointwise "network in network" branches, one for box, one for class).
    Output: one tensor [B, A, 4 + K] as models/README.md "Detector outputs" prescribes: per anchor
    l, t, r, b >= 0 in stride units (softplus, already applied), then K class logits.
  * ``SplitLeYOLO``: the BottleFit split at stride 8. ``head`` = stem .. stride-8 stage -> encoder to
    C channels at 40x40; ``tail`` = decoder (C -> the 32-channel stride-8 feature) -> backbone
    continuation + neck + head, the same modules as the teacher.
  * ``TaskAlignedAssigner`` + ``detection_loss``: anchor-free, task-aligned assignment (TOOD style:
    alignment = score^0.5 * IoU^6, top-10 anchors per object among anchors whose centre lies inside the
    box, ties to the largest IoU), BCE against IoU-aware soft class targets, CIoU box loss.
  * ``decode_detections`` / ``nms_numpy``: the reference decoding the Java tail runner reproduces.
  * ``coco_map``: COCO-style mAP (101-point interpolation, greedy matching in score order, per class,
    classes without ground truth skipped) written here; no pycocotools.

Runs on torch 1.13 (Debian, CPU) and torch 2.x (GPU host).
"""
from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_CLASSES = 10
STRIDES = (8, 16, 32)
INPUT_SIZE = 320


# --------------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------------
class ConvBNAct(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 1, s: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU() if act else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class InvertedBottleneck(nn.Module):
    """1x1 expand (skipped when hidden == cin) -> kxk depthwise stride s -> 1x1 linear projection."""

    def __init__(self, cin: int, cout: int, hidden: int, k: int = 3, s: int = 1):
        super().__init__()
        self.expand = ConvBNAct(cin, hidden, 1) if hidden != cin else nn.Identity()
        self.dw = ConvBNAct(hidden, hidden, k, s, groups=hidden)
        self.project = ConvBNAct(hidden, cout, 1, act=False)
        self.residual = s == 1 and cin == cout

    def forward(self, x):
        y = self.project(self.dw(self.expand(x)))
        return x + y if self.residual else y


class SPPF(nn.Module):
    def __init__(self, c: int, k: int = 5):
        super().__init__()
        h = c // 2
        self.cv1 = ConvBNAct(c, h, 1)
        self.pool = nn.MaxPool2d(k, 1, k // 2)
        self.cv2 = ConvBNAct(h * 4, c, 1)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.pool(x)
        y2 = self.pool(y1)
        y3 = self.pool(y2)
        return self.cv2(torch.cat([x, y1, y2, y3], 1))


def _stage(cin: int, cout: int, n: int, hidden_first: int, hidden: int, k: int, s: int) -> nn.Sequential:
    blocks = [InvertedBottleneck(cin, cout, hidden_first, k, s)]
    blocks += [InvertedBottleneck(cout, cout, hidden, k, 1) for _ in range(n - 1)]
    return nn.Sequential(*blocks)


class Backbone8(nn.Module):
    """Stem .. stride-8 stage: image -> 32 x H/8 x W/8 (the feature the split replaces)."""

    def __init__(self):
        super().__init__()
        self.stem = ConvBNAct(3, 16, 3, 2)                      # 16 / 2
        self.s4 = _stage(16, 16, 1, 16, 16, 3, 2)               # 16 / 4 (dw s2 + project)
        self.s8 = _stage(16, 32, 2, 48, 96, 3, 2)               # 32 / 8  x2

    def forward(self, x):
        return self.s8(self.s4(self.stem(x)))


class BackboneRest(nn.Module):
    """Stride-8 feature -> (P3, P4, P5)."""

    def __init__(self):
        super().__init__()
        self.s16 = _stage(32, 64, 5, 96, 192, 5, 2)             # 64 / 16 x5
        self.s32 = _stage(64, 96, 4, 192, 288, 5, 2)            # 96 / 32 x4
        self.sppf = SPPF(96)

    def forward(self, p3):
        p4 = self.s16(p3)
        p5 = self.sppf(self.s32(p4))
        return p3, p4, p5


class FPAN(nn.Module):
    """Top-down (P5 -> P4 -> P3) then bottom-up (P3 -> P4 -> P5) fusion with inverted bottlenecks."""

    def __init__(self, c3=32, c4=64, c5=96, o3=64, o4=64, o5=96):
        super().__init__()
        self.td4 = InvertedBottleneck(c5 + c4, c4, 2 * c4, 3, 1)
        self.td3 = InvertedBottleneck(c4 + c3, o3, 2 * o3, 3, 1)
        self.down3 = ConvBNAct(o3, o3, 3, 2, groups=o3)
        self.bu4 = InvertedBottleneck(o3 + c4, o4, 2 * o4, 3, 1)
        self.down4 = ConvBNAct(o4, o4, 3, 2, groups=o4)
        self.bu5 = InvertedBottleneck(o4 + c5, o5, 2 * o5, 3, 1)

    def forward(self, p3, p4, p5):
        t4 = self.td4(torch.cat([F.interpolate(p5, scale_factor=2.0, mode="nearest"), p4], 1))
        n3 = self.td3(torch.cat([F.interpolate(t4, scale_factor=2.0, mode="nearest"), p3], 1))
        n4 = self.bu4(torch.cat([self.down3(n3), t4], 1))
        n5 = self.bu5(torch.cat([self.down4(n4), p5], 1))
        return n3, n4, n5


class DNiNHead(nn.Module):
    """Decoupled head per level: box and class branches of (depthwise 3x3 -> pointwise 1x1) x2."""

    def __init__(self, channels: Sequence[int], num_classes: int = NUM_CLASSES,
                 grids: Sequence[int] = tuple(INPUT_SIZE // s for s in STRIDES)):
        super().__init__()
        self.num_classes = num_classes
        # grid sizes are fixed Python ints so the exported Reshape gets a constant shape (no Shape ops)
        self.grids = tuple(int(g) for g in grids)

        def branch(c, out):
            return nn.Sequential(ConvBNAct(c, c, 3, 1, groups=c), ConvBNAct(c, c, 1),
                                 ConvBNAct(c, c, 3, 1, groups=c), ConvBNAct(c, c, 1),
                                 nn.Conv2d(c, out, 1))

        self.box = nn.ModuleList(branch(c, 4) for c in channels)
        self.cls = nn.ModuleList(branch(c, num_classes) for c in channels)
        for m in self.cls:
            nn.init.constant_(m[-1].bias, -math.log((1 - 0.01) / 0.01))
        for m in self.box:
            nn.init.constant_(m[-1].bias, 1.5)   # softplus(1.5) ~ 1.7 stride units per side

    def forward(self, feats):
        outs = []
        for f, bb, cb, g in zip(feats, self.box, self.cls, self.grids):
            ltrb = F.softplus(bb(f))
            logits = cb(f)
            y = torch.cat([ltrb, logits], 1).permute(0, 2, 3, 1)   # [B, H, W, 4+K]
            outs.append(y.reshape(-1, g * g, 4 + self.num_classes))  # row-major (y, then x)
        return torch.cat(outs, 1)                                   # [B, A, 4+K]


class DetectorTail(nn.Module):
    """Stride-8 feature -> detections; shared by the teacher and the split model."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.rest = BackboneRest()
        self.neck = FPAN()
        self.head = DNiNHead((64, 64, 96), num_classes)

    def features(self, p3):
        p3, p4, p5 = self.rest(p3)
        n3, n4, n5 = self.neck(p3, p4, p5)
        return [p4, p5, n3, n4, n5]

    def forward(self, p3):
        p3, p4, p5 = self.rest(p3)
        return self.head(self.neck(p3, p4, p5))


class LeYOLONano(nn.Module):
    """The unsplit teacher: image [B,3,320,320] in [0,1] -> [B, 2100, 14]."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.front = Backbone8()
        self.tail = DetectorTail(num_classes)

    def forward(self, x):
        return self.tail(self.front(x))


class BottleneckEncoder(nn.Module):
    """32 x 40 x 40 -> C x 40 x 40 (the tensor sent on the wire)."""

    def __init__(self, c: int, hidden: int = 64):
        super().__init__()
        self.body = nn.Sequential(ConvBNAct(32, hidden, 1), ConvBNAct(hidden, hidden, 3, 1, groups=hidden),
                                  ConvBNAct(hidden, c, 1, act=False))

    def forward(self, x):
        return self.body(x)


class BottleneckDecoder(nn.Module):
    """C x 40 x 40 -> the teacher's 32-channel stride-8 feature."""

    def __init__(self, c: int, hidden: int = 96):
        super().__init__()
        self.body = nn.Sequential(ConvBNAct(c, hidden, 1), ConvBNAct(hidden, hidden, 3, 1, groups=hidden),
                                  ConvBNAct(hidden, hidden, 1), ConvBNAct(hidden, hidden, 3, 1, groups=hidden),
                                  ConvBNAct(hidden, 32, 1, act=False))

    def forward(self, z):
        return self.body(z)


class SplitHead(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.front = Backbone8()
        self.encoder = BottleneckEncoder(c)

    def forward(self, x):
        return self.encoder(self.front(x))


class SplitTail(nn.Module):
    def __init__(self, c: int, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.decoder = BottleneckDecoder(c)
        self.tail = DetectorTail(num_classes)

    def forward(self, z):
        return self.tail(self.decoder(z))


class SplitLeYOLO(nn.Module):
    def __init__(self, c: int, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.head = SplitHead(c)
        self.tail = SplitTail(c, num_classes)

    @classmethod
    def from_teacher(cls, teacher: LeYOLONano, c: int) -> "SplitLeYOLO":
        m = cls(c, teacher.tail.head.num_classes)
        m.head.front.load_state_dict(teacher.front.state_dict())
        m.tail.tail.load_state_dict(teacher.tail.state_dict())
        return m

    def forward(self, x):
        return self.tail(self.head(x))


# --------------------------------------------------------------------------------------------------
# anchors, boxes
# --------------------------------------------------------------------------------------------------
def make_anchors(size: int = INPUT_SIZE, strides: Sequence[int] = STRIDES, device=None):
    """Anchor centres [A, 2] in input pixels and the stride of each anchor [A], in output order."""
    pts, strs = [], []
    for s in strides:
        n = size // s
        ys, xs = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32),
                                indexing="ij")
        pts.append(torch.stack([(xs.reshape(-1) + 0.5) * s, (ys.reshape(-1) + 0.5) * s], 1))
        strs.append(torch.full((n * n,), float(s)))
    return torch.cat(pts).to(device), torch.cat(strs).to(device)


def ltrb_to_xyxy(ltrb, anchors, strides):
    d = ltrb * strides[..., None]
    return torch.cat([anchors - d[..., :2], anchors + d[..., 2:]], -1)


def box_iou_pairwise(a, b, eps=1e-7):
    """a [..., N, 4], b [..., M, 4] -> IoU [..., N, M]."""
    area_a = (a[..., 2] - a[..., 0]).clamp(min=0) * (a[..., 3] - a[..., 1]).clamp(min=0)
    area_b = (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    lt = torch.max(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.min(a[..., :, None, 2:], b[..., None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area_a[..., :, None] + area_b[..., None, :] - inter + eps)


def ciou(a, b, eps=1e-7):
    """Elementwise CIoU of boxes a, b [..., 4] (xyxy)."""
    w1, h1 = a[..., 2] - a[..., 0], (a[..., 3] - a[..., 1]).clamp(min=eps)
    w2, h2 = b[..., 2] - b[..., 0], (b[..., 3] - b[..., 1]).clamp(min=eps)
    iw = (torch.min(a[..., 2], b[..., 2]) - torch.max(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.min(a[..., 3], b[..., 3]) - torch.max(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(a[..., 2], b[..., 2]) - torch.min(a[..., 0], b[..., 0])
    ch = torch.max(a[..., 3], b[..., 3]) - torch.min(a[..., 1], b[..., 1])
    c2 = cw ** 2 + ch ** 2 + eps
    rho2 = ((a[..., 0] + a[..., 2] - b[..., 0] - b[..., 2]) ** 2 + (a[..., 1] + a[..., 3] - b[..., 1] - b[..., 3]) ** 2) / 4
    v = (4 / math.pi ** 2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


# --------------------------------------------------------------------------------------------------
# assigner and loss
# --------------------------------------------------------------------------------------------------
class TaskAlignedAssigner:
    """TOOD-style task-aligned assignment (written from the paper's description).

    For each object: candidates = anchors whose centre lies inside its box; alignment
    t = score(class)^alpha * IoU(pred, gt)^beta; the top-k candidates by t become positives; an anchor
    claimed by several objects keeps the one with the largest IoU. Soft class target of a positive =
    t / max_t(object) * max_IoU(object) (IoU-aware, in [0, 1]).
    """

    def __init__(self, topk: int = 10, alpha: float = 0.5, beta: float = 6.0, eps: float = 1e-9):
        self.topk, self.alpha, self.beta, self.eps = topk, alpha, beta, eps

    @torch.no_grad()
    def __call__(self, scores, pboxes, anchors, gt_labels, gt_boxes, gt_mask):
        # scores [B,A,K] (sigmoid), pboxes [B,A,4], anchors [A,2], gt_labels [B,G] long,
        # gt_boxes [B,G,4], gt_mask [B,G] bool
        B, A, K = scores.shape
        G = gt_boxes.shape[1]
        if G == 0:
            z = torch.zeros(B, A, device=scores.device)
            return z.bool(), torch.zeros(B, A, 4, device=scores.device), torch.zeros(B, A, K, device=scores.device)
        x, y = anchors[:, 0], anchors[:, 1]
        inside = ((x[None, None] > gt_boxes[..., 0:1]) & (x[None, None] < gt_boxes[..., 2:3]) &
                  (y[None, None] > gt_boxes[..., 1:2]) & (y[None, None] < gt_boxes[..., 3:4]))   # [B,G,A]
        inside &= gt_mask[..., None]
        ious = box_iou_pairwise(gt_boxes, pboxes).clamp(min=0)                                      # [B,G,A]
        idx = gt_labels.clamp(min=0)[..., None].expand(B, G, A)
        cls_score = torch.gather(scores.transpose(1, 2), 1, idx)                                    # [B,G,A]
        align = cls_score.pow(self.alpha) * ious.pow(self.beta) * inside
        k = min(self.topk, A)
        top = torch.topk(align + inside * 1e-12, k, dim=-1).indices                                # prefer inside
        topmask = torch.zeros_like(align, dtype=torch.bool).scatter_(-1, top, True)
        pos = topmask & inside                                                                      # [B,G,A]
        # resolve anchors claimed by several objects: keep the largest IoU
        # (no host sync: always computed, applied where an anchor has several owners)
        multi = pos.sum(1) > 1                                                                      # [B,A]
        best = (ious * pos).argmax(1)                                                               # [B,A]
        onehot = F.one_hot(best, G).transpose(1, 2).bool()                                          # [B,G,A]
        pos = torch.where(multi[:, None, :], onehot & pos, pos)
        fg = pos.any(1)                                                                             # [B,A]
        gidx = pos.float().argmax(1)                                                                # [B,A]
        tboxes = torch.gather(gt_boxes, 1, gidx[..., None].expand(B, A, 4))
        tlabels = torch.gather(gt_labels, 1, gidx)
        align = align * pos
        amax = align.amax(-1, keepdim=True)
        imax = (ious * pos).amax(-1, keepdim=True)
        norm = (align * imax / (amax + self.eps)).amax(1)                                           # [B,A]
        tscores = F.one_hot(tlabels.clamp(min=0), K).float() * (norm * fg)[..., None]
        return fg, tboxes, tscores


def detection_loss(out, targets, anchors, strides, assigner: TaskAlignedAssigner,
                   w_box: float = 7.5, w_cls: float = 1.0):
    """out [B,A,4+K] (float32), targets = (labels [B,G], boxes [B,G,4], mask [B,G]). Returns (loss, parts)."""
    gt_labels, gt_boxes, gt_mask = targets
    ltrb, logits = out[..., :4], out[..., 4:]
    pboxes = ltrb_to_xyxy(ltrb, anchors, strides)
    fg, tboxes, tscores = assigner(logits.detach().sigmoid(), pboxes.detach(), anchors, gt_labels, gt_boxes, gt_mask)
    tsum = tscores.sum().clamp(min=1.0)
    l_cls = F.binary_cross_entropy_with_logits(logits, tscores, reduction="sum") / tsum
    # CIoU over every anchor, weighted by its soft target (0 for negatives): no boolean indexing,
    # so no host sync inside a training step
    w = tscores.sum(-1) * fg
    safe_t = torch.where(fg[..., None], tboxes, pboxes.detach())
    l_box = ((1.0 - ciou(pboxes, safe_t)) * w).sum() / tsum
    loss = w_box * l_box + w_cls * l_cls
    return loss, {"box": l_box.detach(), "cls": l_cls.detach()}


# --------------------------------------------------------------------------------------------------
# decoding + NMS (the reference that Java reproduces) and a fast torch path
# --------------------------------------------------------------------------------------------------
def decode_candidates_numpy(raw: np.ndarray, score_threshold: float, size: int = INPUT_SIZE,
                            strides: Sequence[int] = STRIDES):
    """raw [A, 4+K] -> boxes [N,4] (clipped to the input), scores [N], classes [N], anchor-major order.

    Every (anchor, class) pair whose sigmoid score is strictly above the threshold is a candidate
    (multi-label)."""
    anchors, strs = make_anchors(size, strides)
    anchors, strs = anchors.numpy().astype(np.float32), strs.numpy().astype(np.float32)
    ltrb = raw[:, :4].astype(np.float32) * strs[:, None]
    boxes = np.concatenate([anchors - ltrb[:, :2], anchors + ltrb[:, 2:]], 1)
    boxes = np.clip(boxes, 0.0, float(size))
    scores = 1.0 / (1.0 + np.exp(-raw[:, 4:].astype(np.float64)))
    a_idx, c_idx = np.nonzero(scores > score_threshold)
    return boxes[a_idx], scores[a_idx, c_idx], c_idx


def nms_numpy(boxes, scores, classes, iou_threshold: float, max_detections: int):
    """Per-class greedy NMS: order by score descending (stable, ties keep candidate order); a box is
    dropped when its IoU with an already kept box of the same class is > iou_threshold. Then the
    max_detections best survivors over all classes, by score descending."""
    order = np.argsort(-scores, kind="stable")
    keep_all = []
    for c in np.unique(classes):
        idx = order[classes[order] == c]
        b = boxes[idx]
        area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        alive = np.ones(len(idx), bool)
        for i in range(len(idx)):
            if not alive[i]:
                continue
            keep_all.append(idx[i])
            rest = np.nonzero(alive[i + 1:])[0] + i + 1
            if len(rest) == 0:
                break
            lt = np.maximum(b[i, :2], b[rest, :2])
            rb = np.minimum(b[i, 2:], b[rest, 2:])
            wh = np.clip(rb - lt, 0, None)
            inter = wh[:, 0] * wh[:, 1]
            iou = inter / (area[i] + area[rest] - inter + 1e-12)
            alive[rest[iou > iou_threshold]] = False
    keep = np.array(keep_all, dtype=np.int64)
    if len(keep) == 0:
        return keep
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    return keep[:max_detections]


def postprocess_numpy(raw, score_threshold, iou_threshold, max_detections, size=INPUT_SIZE):
    boxes, scores, classes = decode_candidates_numpy(raw, score_threshold, size)
    keep = nms_numpy(boxes, scores, classes, iou_threshold, max_detections)
    return boxes[keep], scores[keep], classes[keep]


def postprocess_torch(raw: torch.Tensor, score_threshold, iou_threshold, max_detections, size=INPUT_SIZE,
                      max_group_candidates: int = 40000):
    """Same rule as postprocess_numpy, batched over [B, A, 4+K] on the GPU: candidates of several frames
    go through one torchvision NMS call, kept apart by a per-(frame, class) coordinate offset computed
    in float64 (exact for these magnitudes). Frames are grouped so that one NMS call sees at most
    ~max_group_candidates boxes. Returns a list of (boxes, scores, classes) numpy arrays per frame."""
    import torchvision
    anchors, strs = make_anchors(size, device=raw.device)
    raw = raw.float()
    B, A, C4 = raw.shape
    K = C4 - 4
    boxes_all = ltrb_to_xyxy(raw[..., :4], anchors, strs).clamp(0, float(size))
    scores_all = raw[..., 4:].sigmoid()
    cand = scores_all > score_threshold
    counts = cand.sum((1, 2)).tolist()
    results = [None] * B
    start = 0
    while start < B:
        end, tot = start, 0
        while end < B and (end == start or tot + counts[end] <= max_group_candidates):
            tot += counts[end]
            end += 1
        f_idx, a_idx, c_idx = torch.nonzero(cand[start:end], as_tuple=True)
        boxes = boxes_all[start:end][f_idx, a_idx].double()
        scores = scores_all[start:end][f_idx, a_idx, c_idx]
        group = (f_idx * K + c_idx).double()[:, None] * (size + 1.0)
        keep = torchvision.ops.nms(boxes + group, scores.double(), iou_threshold)   # score-descending
        kf = f_idx[keep]
        order = torch.sort(kf, stable=True).indices
        keep, kf = keep[order], kf[order]                                              # by frame, then score
        n_per = torch.bincount(kf, minlength=end - start)
        first = torch.cumsum(n_per, 0) - n_per
        rank = torch.arange(len(keep), device=raw.device) - first[kf]
        sel = keep[rank < max_detections]
        fb = boxes[sel].float().cpu().numpy()
        fs_ = scores[sel].cpu().numpy()
        fc = c_idx[sel].cpu().numpy()
        ff = f_idx[sel].cpu().numpy()
        splits = np.searchsorted(ff, np.arange(end - start + 1))
        for i in range(end - start):
            a, b = splits[i], splits[i + 1]
            results[start + i] = (fb[a:b], fs_[a:b], fc[a:b])
        start = end
    return results


def coco_map_many(named_dets: Dict[str, list], gts, num_classes: int = NUM_CLASSES, processes: int = 0):
    """coco_map for several detection sets, in parallel processes when processes > 1 (fork)."""
    if processes > 1 and len(named_dets) > 1:
        import multiprocessing as mp
        ctx = mp.get_context("fork")
        with ctx.Pool(min(processes, len(named_dets))) as pool:
            outs = pool.starmap(coco_map, [(v, gts, num_classes) for v in named_dets.values()])
        return dict(zip(named_dets.keys(), outs))
    return {k: coco_map(v, gts, num_classes) for k, v in named_dets.items()}


# --------------------------------------------------------------------------------------------------
# COCO-style mAP (written here)
# --------------------------------------------------------------------------------------------------
def _iou_np(a, b):
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    aa = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    ab = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (aa[:, None] + ab[None, :] - inter)


def coco_map(dets: List[Tuple[np.ndarray, np.ndarray, np.ndarray]], gts: List[Tuple[np.ndarray, np.ndarray]],
             num_classes: int = NUM_CLASSES, max_dets: int = 100) -> Dict[str, float]:
    """dets[i] = (boxes [N,4], scores [N], classes [N]); gts[i] = (boxes [M,4], classes [M]).

    COCO rules without area ranges or crowd: per image and class, detections by score (top max_dets),
    each matched greedily to the unmatched ground truth of largest IoU >= t; per class, precision
    made monotone and sampled at 101 recall points (0 past the last recall); AP averaged over the
    classes that have ground truth; mAP@0.5:0.95 averages t = 0.50, 0.55, ..., 0.95."""
    thrs = np.linspace(0.5, 0.95, 10)
    rec_pts = np.linspace(0.0, 1.0, 101)
    ap = np.full((len(thrs), num_classes), np.nan)
    for c in range(num_classes):
        all_scores, all_tp, n_gt = [], [], 0
        for (db, ds, dc), (gb, gc) in zip(dets, gts):
            g = gb[gc == c]
            n_gt += len(g)
            m = dc == c
            if not m.any():
                continue
            d, s = db[m], ds[m]
            o = np.argsort(-s, kind="mergesort")[:max_dets]
            d, s = d[o], s[o]
            tp = np.zeros((len(thrs), len(d)), bool)
            if len(g):
                iou = _iou_np(d, g)
                used = np.zeros((len(thrs), len(g)), bool)
                tcol = np.minimum(thrs, 1 - 1e-10)
                rows = np.arange(len(thrs))
                for di in np.nonzero(iou.max(1) >= thrs[0])[0]:   # others match at no threshold
                    cand = np.where(used, -1.0, iou[di][None, :])   # [T, G]
                    j = cand.argmax(1)
                    hit = cand[rows, j] >= tcol
                    used[rows[hit], j[hit]] = True
                    tp[hit, di] = True
            all_scores.append(s)
            all_tp.append(tp)
        if n_gt == 0:
            continue
        if not all_scores:
            ap[:, c] = 0.0
            continue
        s = np.concatenate(all_scores)
        tp = np.concatenate(all_tp, 1)
        o = np.argsort(-s, kind="mergesort")
        tp = tp[:, o]
        tpc = np.cumsum(tp, 1).astype(np.float64)
        fpc = np.cumsum(~tp, 1).astype(np.float64)
        for ti in range(len(thrs)):
            rc = tpc[ti] / n_gt
            pr = tpc[ti] / np.maximum(tpc[ti] + fpc[ti], np.spacing(1))
            pr = np.maximum.accumulate(pr[::-1])[::-1]
            ids = np.searchsorted(rc, rec_pts, side="left")
            q = np.array([pr[i] if i < len(pr) else 0.0 for i in ids])
            ap[ti, c] = q.mean()
    per_class50 = ap[0]
    return {"map50": float(np.nanmean(ap[0])), "map50_95": float(np.nanmean(ap)),
            "per_class_ap50": [None if np.isnan(v) else float(v) for v in per_class50]}
