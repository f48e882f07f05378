#include "zimt/layers/conv2d.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>

#include "bias.hpp"
#include "conv2d_batch_sums.hpp"
#include "sample_runs.hpp"
#include "transpose_rows.hpp"
#include "zimt/kernels/gemm.hpp"
#include "zimt/kernels/max_abs.hpp"
#include "zimt/kernels/narrow.hpp"
#include "zimt/layers/relu.hpp"
#include "zimt/layers/sparse_input.hpp"
#include "zimt/layers/sparse_rows.hpp"
#include "zimt/quant.hpp"
#include "zimt/scratch.hpp"

namespace zimt {

namespace {

struct Geometry {
  int64_t C, H, W, O, k, stride, pad, OH, OW;
  int64_t K() const { return C * k * k; }  // patch length
  int64_t P() const { return OH * OW; }    // output positions
};

Geometry geometry(const Shape& in, const Conv2dSpec& s) {
  assert(in.rank == 4 && in[1] == s.in_channels);
  const int64_t OH = (in[2] + 2 * s.padding - s.kernel) / s.stride + 1;
  const int64_t OW = (in[3] + 2 * s.padding - s.kernel) / s.stride + 1;
  return {in[1], in[2], in[3], s.out_channels, s.kernel, s.stride, s.padding, OH, OW};
}

// The output columns ow whose tap kw reads a pixel inside the image,
// iw = ow·stride - pad + kw in [0, W): [first, last), possibly empty.
std::pair<int64_t, int64_t> inside_columns(const Geometry& g, int64_t kw) {
  const int64_t offset = kw - g.pad;  // iw of ow = 0
  const int64_t first = std::clamp<int64_t>(offset >= 0 ? 0 : (-offset + g.stride - 1) / g.stride, 0, g.OW);
  const int64_t last = std::clamp<int64_t>((g.W - offset + g.stride - 1) / g.stride, first, g.OW);
  return {first, last};
}

// The taps that read a pixel inside the image for at least one output
// position. On a square image with OH = OW they are the square kh, kw in
// [first, first + live.k) of the kernel; every other tap reads padding only,
// so it adds exactly 0 to every output, input error and weight gradient.
// `live` is the geometry of that smaller kernel (pad reduced by first, the
// same OH, OW), which every function here accepts: ResNet-18's last stage on
// 28x28 inputs has 2x2 and 1x1 images, where 4 and 1 of the 9 taps are live.
// Elsewhere (every tap live, or a non-square image) live is the full geometry.
struct LiveTaps {
  Geometry live;
  int64_t first = 0;   // the first live tap, in rows and columns
  int64_t full_k = 0;  // the kernel's own size
  bool all() const { return live.k == full_k; }
  int64_t full_K() const { return live.C * full_k * full_k; }
  // f(kk, full) for every live patch index kk = (c·k' + kh)·k' + kw in
  // order, with its index in the full patch, (c·k + first + kh)·k + first + kw.
  template <class F>
  void for_each(F&& f) const {
    int64_t kk = 0;
    for (int64_t c = 0; c < live.C; ++c)
      for (int64_t kh = 0; kh < live.k; ++kh)
        for (int64_t kw = 0; kw < live.k; ++kw, ++kk) f(kk, (c * full_k + first + kh) * full_k + first + kw);
  }
};

LiveTaps live_taps(const Geometry& g) {
  LiveTaps t{g, 0, g.k};
  if (g.H != g.W || g.OH != g.OW) return t;
  int64_t first = g.k, last = 0;
  for (int64_t kw = 0; kw < g.k; ++kw) {
    const auto [lo, hi] = inside_columns(g, kw);
    if (lo < hi) first = std::min(first, kw), last = kw + 1;
  }
  if (first >= last) return t;  // no tap reads the image (pad >= k): keep the plain path
  t.first = first;
  t.live.k = last - first;
  t.live.pad = g.pad - first;
  return t;
}

// Rows of a weight tensor per task of the passes over whole weight tensors
// (live taps, flipped filter, weight-gradient totals): those passes are
// memory-bound, and in ResNet-18's deep stages, whose GEMMs are short, they
// are a large part of the layer.
constexpr int64_t kWeightRows = 16;

// W (O, C·k·k) -> the live taps' weights (O, C·k'·k'), k' = taps.live.k.
// In parallel over rows: ResNet-18's last stage gathers 0.3 M of 2.4 M.
void live_weights(const LiveTaps& taps, const int16_t* w, int16_t* out) {
  const int64_t K = taps.live.K(), full_K = taps.full_K();
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, taps.live.O, kWeightRows),
                    [&](const tbb::blocked_range<int64_t>& r) {
                      for (int64_t o = r.begin(); o < r.end(); ++o)
                        taps.for_each([&](int64_t kk, int64_t full) { out[o * K + kk] = w[o * full_K + full]; });
                    });
}

// dst[0, n) = src[0, n) for the short runs of small images (ResNet-18's
// image rows of 7, 4, 2 and 1 values, and its deep layers' 1 to 16
// positions per channel): bounded by 16, the compiler moves them inline,
// where a library call per run costs more than the run.
template <class T>
T* copy_short(const T* src, int64_t n, T* dst) {
  if (n > 16) return std::copy_n(src, n, dst);
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
  return dst + n;
}

// One sample with its zero border: padded (C, H + 2·pad, W + 2·pad), then
// kPaddedSlack zeros that the 4-value moves of patch_rows may read past the
// end. The patch gathers below read every tap from it without bounds checks.
constexpr int64_t kPaddedSlack = 4;
int64_t padded_size(const Geometry& g) { return g.C * (g.H + 2 * g.pad) * (g.W + 2 * g.pad) + kPaddedSlack; }

template <class X>
void pad_sample(const Geometry& g, const X* x, X* padded) {
  const int64_t PW = g.W + 2 * g.pad;
  X* dst = padded;   // every value written once, in order
  if (g.pad == 0) {  // one move (ResNet-18's last stage: 1x1 images, the centre tap alone)
    dst = std::copy_n(x, g.C * g.H * g.W, dst);
  } else {
    for (int64_t c = 0; c < g.C; ++c) {
      dst = std::fill_n(dst, g.pad * PW + g.pad, X{0});  // the top rows, and the first row's left border
      for (int64_t h = 0; h < g.H; ++h) {
        dst = copy_short(x + (c * g.H + h) * g.W, g.W, dst);
        // this row's right border and the next one's left (the bottom rows after the last)
        dst = std::fill_n(dst, h + 1 < g.H ? 2 * g.pad : g.pad + g.pad * PW, X{0});
      }
    }
  }
  std::fill_n(dst, kPaddedSlack, X{0});
}

// One sample's patches as rows, for the forward GEMM's B operand (n = P, k = K):
// rows (P,K), rows[p·K + (c·k + kh)·k + kw] = padded[c, oh·s + kh, ow·s + kw]
// for p = oh·OW + ow (x's pixel, or 0 where that is padding); padded is
// pad_sample's. Every entry is written, or with `needed` only the rows of
// the positions p where needed[p] != 0. KW: the kernel width when fixed at
// compile time (the shipped models' 3), else 0 (g.k).
template <int64_t KW, class X>
void patch_rows(const Geometry& g, const X* padded, X* rows, const uint8_t* needed) {
  const int64_t k = KW != 0 ? KW : g.k, K = g.K(), PW = g.W + 2 * g.pad, plane = (g.H + 2 * g.pad) * PW;
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t p = oh * g.OW + ow;
      if (needed != nullptr && needed[p] == 0) continue;
      X* dst = rows + p * K;
      const X* src = padded + oh * g.stride * PW + ow * g.stride;
      if constexpr (KW == 3) {
        // 4-value moves: the fourth value lands on the next tap row's first,
        // which the next move writes; the patch's last tap row moves 3.
        for (int64_t c = 0; c < g.C; ++c, src += plane) {
          std::memcpy(dst, src, 4 * sizeof(X));
          std::memcpy(dst + 3, src + PW, 4 * sizeof(X));
          if (c + 1 < g.C)
            std::memcpy(dst + 6, src + 2 * PW, 4 * sizeof(X));
          else
            std::memcpy(dst + 6, src + 2 * PW, 3 * sizeof(X));
          dst += 9;
        }
      } else {
        for (int64_t c = 0; c < g.C; ++c, src += plane)
          for (int64_t kh = 0; kh < k; ++kh, dst += k) std::copy_n(src + kh * PW, k, dst);
      }
    }
}

template <class X>
void patch_rows(const Geometry& g, const X* padded, X* rows, const uint8_t* needed = nullptr) {
  if (g.k == 3)
    patch_rows<3>(g, padded, rows, needed);
  else
    patch_rows<0>(g, padded, rows, needed);
}

// needed (P) = whether any of a sample's output errors dy (O,P) at position
// p is nonzero: the patch rows that sparse row products read.
void positions_with_errors(const int16_t* dy, int64_t O, int64_t P, uint8_t* needed) {
  std::fill(needed, needed + P, uint8_t{0});
  for (int64_t o = 0; o < O; ++o)
    for (int64_t p = 0; p < P; ++p) needed[p] |= dy[o * P + p] != 0 ? 1 : 0;
}

// One tap row of patch_columns at stride 1: row[oh·OW + ow] = src[oh·PW +
// ow] for oh < OH, ow < OW, each image row one move of V values (V >= OW):
// a move's values past OW land on the next image row's, which its own move
// writes next, and V <= 2·OW keeps them inside the tap row's OH·OW; the
// last image row is moved exactly.
template <int64_t V, class X>
void move_image_rows(X* row, const X* src, int64_t OH, int64_t OW, int64_t PW) {
  for (int64_t oh = 0; oh + 1 < OH; ++oh) std::memcpy(row + oh * OW, src + oh * PW, V * sizeof(X));
  std::copy_n(src + (OH - 1) * PW, OW, row + (OH - 1) * OW);
}

// One sample's patches as columns, for the weight gradient's B operand (n =
// K, k = positions): col (K, ld), col[(c·k + kh)·k + kw][p] = the same value
// as in patch_rows (padded is pad_sample's). Every entry of the P columns is
// written. Image rows are short (ResNet-18 on 28x28 images: 7, 4, 2, 1
// values), so at stride 1 each is one fixed-size move where OW allows.
template <class X>
void patch_columns(const Geometry& g, const X* padded, X* col, int64_t ld) {
  const int64_t PW = g.W + 2 * g.pad, plane = (g.H + 2 * g.pad) * PW;
  using Move = void (*)(X*, const X*, int64_t, int64_t, int64_t);
  Move move = nullptr;
  if (g.stride == 1 && g.OW >= 2) {
    if (g.OW <= 4)
      move = move_image_rows<4, X>;
    else if (g.OW <= 8)
      move = move_image_rows<8, X>;
    else if (g.OW <= 16)
      move = move_image_rows<16, X>;
    else if (g.OW <= 32)
      move = move_image_rows<32, X>;
  }
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.k; ++kh)
      for (int64_t kw = 0; kw < g.k; ++kw) {
        X* row = col + ((c * g.k + kh) * g.k + kw) * ld;
        const X* src = padded + c * plane + kh * PW + kw;
        if (move != nullptr) {
          move(row, src, g.OH, g.OW, PW);
          continue;
        }
        for (int64_t oh = 0; oh < g.OH; ++oh, row += g.OW, src += g.stride * PW) {
          if (g.stride == 1)
            for (int64_t ow = 0; ow < g.OW; ++ow) row[ow] = src[ow];
          else
            for (int64_t ow = 0; ow < g.OW; ++ow) row[ow] = src[ow * g.stride];
        }
      }
}

// The input error of one sample from its patches' errors: img (C,H,W) =
// Σ over taps of dcol (K, ld) (the inverse of patch_columns: each row adds
// onto shifted input rows). D, I: int32_t or int64_t; I holds every sum.
template <class D, class I>
void add_patch_columns(const Geometry& g, const D* dcol, int64_t ld, I* img) {
  std::fill(img, img + g.C * g.H * g.W, I{0});
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.k; ++kh)
      for (int64_t kw = 0; kw < g.k; ++kw) {
        const D* row = dcol + ((c * g.k + kh) * g.k + kw) * ld;
        const auto [lo, hi] = inside_columns(g, kw);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.stride - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          const D* src = row + oh * g.OW;
          const int64_t base = (c * g.H + ih) * g.W + kw - g.pad;  // pixel of ow = 0, written from lo on
          if (g.stride == 1)
            for (int64_t ow = lo; ow < hi; ++ow) img[base + ow] += src[ow];
          else
            for (int64_t ow = lo; ow < hi; ++ow) img[base + ow * g.stride] += src[ow];
        }
      }
}

// The most samples the weight gradient contracts in one GEMM (a group of
// runs, sample_runs.hpp): max(kGroupSamples, kGroupColumns / P) samples,
// and at most kGroupElements patch values (K·L). Each group costs one pass
// over the (O,K) total, which for few positions P costs more than the GEMM
// itself (P = 1: O·K·L MACs against O·K int64 reads and writes), so groups
// grow as P shrinks; where P is large the 8-sample cap leaves several
// groups to share among threads.
int64_t max_group_samples(int64_t P, int64_t K) {
  constexpr int64_t kGroupSamples = 8, kGroupColumns = 256, kGroupElements = int64_t{1} << 22;
  const int64_t most = std::max(kGroupSamples, kGroupColumns / std::max<int64_t>(P, 1));
  return std::clamp<int64_t>(kGroupElements / std::max<int64_t>(P * K, 1), 1, most);
}

// Samples per GEMM in the forward and input-error passes: a layer with few
// output positions P (ResNet-18's deep layers: 1..16) contracts a group of
// samples in one GEMM over their concatenated positions instead of one thin
// GEMM each; every output element is the same exact dot product either way.
int64_t group_samples(int64_t P, int64_t K) {
  constexpr int64_t kTargetColumns = 128, kMaxSamples = 16, kMaxElements = int64_t{1} << 22;
  const int64_t g = std::clamp<int64_t>((kTargetColumns + P - 1) / P, 1, kMaxSamples);
  return std::clamp<int64_t>(kMaxElements / std::max<int64_t>(P * K, 1), 1, g);
}

// What a convolution applies: weights (O, C·k·k) on exponent w_exp, whose
// values fit int8 when `as_int8` (the int8 storage policy): int8 inputs then
// run gemm_nt's int8 x int8 kernel (vpdpbusd) on a narrowed copy; int16
// inputs read the weights as they are, the same values, which the int16
// GEMM reads in place (gemm_common.hpp). And a bias (O) on exponent
// bias_exp, or none; and whether a ReLU follows on the output.
struct Filter {
  const int16_t* w = nullptr;
  int32_t w_exp = 0;
  bool as_int8 = false;
  const int16_t* bias = nullptr;
  int32_t bias_exp = 0;
  bool relu = false;
};

// One sample's output from its exact accumulators a (O,P) on exponent e:
// the bias joined (bias.hpp), then requantised (quant.hpp), then the ReLU if
// the filter has one. int32 accumulators take the bias as int32 addends in
// requantize_rows where bias_addends_in_int32 can (one pass finds the
// largest sum, one rounds), else join in int64 (`wide`, (O,P)); the values
// are the same either way. acc_bound >= every |a| (bias_addends_in_int32).
template <class T>
int32_t finish_sample(int64_t* a, int32_t e, const Filter& f, int64_t O, int64_t P, T* out, int64_t*, int64_t) {
  if (f.bias != nullptr) e = detail::join_bias(a, O, P, e, f.bias, f.bias_exp);
  e = requantize(a, O * P, e, out);
  if (f.relu) relu_in_place(out, O * P);
  return e;
}
template <class T>
int32_t finish_sample(int32_t* a, int32_t e, const Filter& f, int64_t O, int64_t P, T* out, int64_t* wide,
                      int64_t acc_bound) {
  auto* addend = reinterpret_cast<int32_t*>(wide);  // (O), wide's room while the int32 way holds
  if (f.bias != nullptr && !detail::bias_addends_in_int32(addend, a, O, P, e, f.bias, f.bias_exp, acc_bound)) {
    std::copy_n(a, O * P, wide);
    return finish_sample(wide, e, f, O, P, out, wide, acc_bound);
  }
  return requantize_rows(a, O, P, f.bias != nullptr ? addend : nullptr, f.relu, e, out);
}

// Whether a convolution's GEMM reads its padded input directly (gemm_rows)
// instead of patches: at stride 1 tap t of position (oh, ow) reads
// padded[c, oh + kh, ow + kw], so with positions numbered oh·PW + ow over
// the padded width PW each tap's row is one contiguous run of the padded
// sample. The k - 1 columns per image row past OW are computed and dropped,
// so this pays where they are at most 1/8 of PW (the CNN's conv2: 2 of 16)
// and samples are contracted one per GEMM (group_samples, large images).
// int16 inputs: gemm_rows takes int16 B.
template <class X>
bool reads_padded_input(const Geometry& g, int64_t G) {
  return std::is_same_v<X, int16_t> && g.stride == 1 && G == 1 && 8 * (g.k - 1) <= g.W + 2 * g.pad;
}

// in (N,C,H,W) -> out (N,O,OH,OW) with geometry g (the live taps of a
// convolution: live_taps) and filter f over them; T (output) and X (input):
// int8_t or int16_t. Each group of samples is one GEMM, acc (O,L) = W (O,K)
// · patches (L,K)ᵀ, L = samples·P, or one sample's acc (O, (OH-1)·PW + OW)
// over the padded input's rows (reads_padded_input), in int32 when
// K·max|w|·max|x| (the group's actual maxima) fits, else int64: the exact
// sums either way; out.exp[n] = in.exp[n] + w_exp before the bias joins.
template <class T, class X>
void convolve(Tensor<T>& out, const Tensor<X>& in, const Geometry& g, const Filter& f) {
  const int64_t K = g.K(), P = g.P(), G = group_samples(P, K), batch = in.batch(), O = g.O;
  const int64_t PW = g.W + 2 * g.pad, wide_P = (g.OH - 1) * PW + g.OW;  // positions over the padded width
  const bool direct = reads_padded_input<X>(g, G);
  const int16_t* w = f.w;
  const int64_t w_max = kernels::max_abs(w, O * K);
  int8_t* w8 = nullptr;
  if (f.as_int8 && std::is_same_v<X, int8_t>) {
    w8 = thread_scratch<int8_t>(ScratchSlot::caller0, O * K);
    kernels::narrow_to_int8(w8, w, O * K);
  }
  // Where each tap's row starts in the padded sample (gemm_rows' rows).
  int64_t* tap_rows = direct ? thread_scratch<int64_t>(ScratchSlot::caller3, K) : nullptr;
  for (int64_t c = 0, t = 0; direct && c < g.C; ++c)
    for (int64_t kh = 0; kh < g.k; ++kh)
      for (int64_t kw = 0; kw < g.k; ++kw) tap_rows[t++] = (c * (g.H + 2 * g.pad) + kh) * PW + kw;
  const int64_t groups = (batch + G - 1) / G;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, groups), [&](const tbb::blocked_range<int64_t>& r) {
    X* col_t = direct ? nullptr : thread_scratch<X>(ScratchSlot::body0, G * P * K);  // (L,K): one patch per row
    X* padded = thread_scratch<X>(ScratchSlot::body3, padded_size(g));
    // (O,L) accumulators, int32 or int64; then one sample's (O,P) columns
    // (int32 or int64) and the int64 (O,P) of an int32 sample joined in int64.
    void* acc = thread_scratch<int64_t>(ScratchSlot::body1, O * std::max(G * P, direct ? wide_P : 0));
    void* sample_buf = thread_scratch<int64_t>(ScratchSlot::body2, 2 * O * P);
    int64_t* wide = static_cast<int64_t*>(sample_buf) + O * P;
    auto finish = [&](auto* a, int64_t n0, int64_t count, int64_t acc_bound) {
      using A = std::remove_pointer_t<decltype(a)>;
      for (int64_t j = 0; j < count; ++j) {
        const int64_t n = n0 + j;
        A* s = a;
        if (count > 1) {
          s = static_cast<A*>(sample_buf);
          for (int64_t o = 0; o < O; ++o) copy_short(a + o * count * P + j * P, P, s + o * P);
        }
        out.exp[n] = finish_sample(s, in.exp[n] + f.w_exp, f, O, P, out.sample(n), wide, acc_bound);
      }
    };
    for (int64_t grp = r.begin(); grp < r.end(); ++grp) {
      const int64_t n0 = grp * G, count = std::min(G, batch - n0), L = count * P;
      const int64_t x_max = kernels::max_abs(in.sample(n0), count * in.sample_numel());
      // One sample's padded input (reads_padded_input), or each sample's patches.
      for (int64_t j = 0; j < count; ++j) {
        pad_sample(g, in.sample(n0 + j), padded);
        if (!direct) patch_rows(g, padded, col_t + j * P * K);
      }
      auto product = [&](auto* c) {
        if (!direct) {
          if (w8 == nullptr)
            kernels::gemm_nt(c, L, w, K, col_t, K, O, L, K);
          else
            kernels::gemm_nt(c, L, w8, K, col_t, K, O, L, K);
        } else if constexpr (std::is_same_v<X, int16_t>) {
          // The GEMM over the padded width, then each image row's OW
          // columns moved down onto (O,P), in place.
          if (w8 == nullptr)
            kernels::gemm_rows(c, wide_P, w, K, padded, tap_rows, O, wide_P, K);
          else
            kernels::gemm_rows(c, wide_P, w8, K, padded, tap_rows, O, wide_P, K);
          for (int64_t o = 0; o < O; ++o)
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              auto* to = c + o * P + oh * g.OW;
              const auto* from = c + o * wide_P + oh * PW;  // from >= to: copied forward, each value is read first
              for (int64_t ow = 0; ow < g.OW; ++ow) to[ow] = from[ow];
            }
        }
        finish(c, n0, count, K * w_max * x_max);
      };
      if (kernels::sum_fits_int32(K, w_max, x_max))
        product(static_cast<int32_t*>(acc));
      else
        product(static_cast<int64_t*>(acc));
    }
  });
}

// in (N,C,H,W), W (O,C,k,k), b (O) -> out (N,O,OH,OW).
template <class T, class X>
void forward(Tensor<T>& out, const Tensor<X>& in, const ParamSet& params, const Conv2dSpec& spec, bool relu,
             int16_t* kept) {
  assert(out.shape == conv2d_out_shape(in.shape, spec));
  const LiveTaps taps = live_taps(geometry(in.shape, spec));
  Filter f{params.weights(spec.weight), params.tensors[spec.weight].w_exp, params.storage == WeightStorage::int8};
  f.relu = relu;
  if (!taps.all()) {
    int16_t* w_live =
        kept != nullptr ? kept : thread_scratch<int16_t>(ScratchSlot::caller1, taps.live.O * taps.live.K());
    live_weights(taps, f.w, w_live);
    f.w = w_live;
  }
  if (spec.has_bias) f.bias = params.weights(spec.bias), f.bias_exp = params.tensors[spec.bias].w_exp;
  convolve(out, in, taps.live, f);
}

// The input error of a stride-1 convolution is a stride-1 convolution of
// the output error: din[c,ih,iw] = Σ_o,kh,kw dout[o, ih+p-kh, iw+p-kw] ·
// W[o,c,kh,kw], i.e. the filter flipped in both directions with its two
// channel axes swapped, on padding k-1-p (which gives back H, W). Its
// geometry, when the convolution is such (stride 1, p <= k-1).
bool stride1_transpose(const Geometry& g, Geometry& t) {
  if (g.stride != 1 || g.pad > g.k - 1) return false;
  t = {g.O, g.OH, g.OW, g.C, g.k, 1, g.k - 1 - g.pad, g.H, g.W};
  return true;
}

// W (O, C·k·k) of geometry g -> the flipped filter's live taps `t` (of
// the transpose, stride1_transpose): (C, O·k'·k'), k' = t.live.k, f =
// t.first, flipped[c, (o·k' + a)·k' + b] = W[o, (c·k + k-1-f-a)·k +
// k-1-f-b]. In bands of channels c, one task each, so that both the reads
// (a band of one W row) and the writes (one position of the band's flipped
// rows) stay within a few cache lines per o.
void flip_filter(const Geometry& g, const LiveTaps& t, const int16_t* w, int16_t* flipped) {
  const int64_t k = g.k, kl = t.live.k, last = k - 1 - t.first;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, g.C, kWeightRows), [&](const tbb::blocked_range<int64_t>& band) {
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t c = band.begin(); c < band.end(); ++c) {
        const int16_t* src = w + (o * g.C + c) * k * k;
        int16_t* dst = flipped + (c * g.O + o) * kl * kl;
        if (k == 3 && kl == 3) {  // the whole 3x3 kernel reversed, unrolled
          for (int i = 0; i < 9; ++i) dst[i] = src[8 - i];
        } else if (kl == 1) {
          dst[0] = src[last * k + last];
        } else {
          for (int64_t a = 0; a < kl; ++a)
            for (int64_t b = 0; b < kl; ++b) dst[a * kl + b] = src[(last - a) * k + last - b];
        }
      }
  });
}

// Whether the flipped filter's live taps `t` (of the transpose) are the
// forward's live taps mirrored, t.first + taps.first + k' = k with one k':
// a square image (ResNet-18's last stage: 1 x 1, the centre tap alone), so
// that flip_live can read them from the live-tap weights.
bool flips_from_live(const Geometry& g, const LiveTaps& taps, const LiveTaps& t) {
  return !taps.all() && t.live.k == taps.live.k && t.first + taps.first + taps.live.k == g.k;
}

// flip_filter's result from the live-tap weights w_live (O, C·k'·k')
// (live_weights) where flips_from_live: flipped[c, (o·k' + a)·k' + b] =
// w_live[o, (c·k' + k'-1-a)·k' + k'-1-b], reading O·C·k'² weights instead
// of O·C·k² (ResNet-18's last stage: 1 in 9). For k' = 1, a transpose.
void flip_live(const LiveTaps& taps, const int16_t* w_live, int16_t* flipped) {
  const int64_t O = taps.live.O, C = taps.live.C, kk = taps.live.k * taps.live.k;
  if (kk == 1) {
    detail::transpose_rows(flipped, O, C, [&](int64_t o) { return w_live + o * C; });
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, C, kWeightRows), [&](const tbb::blocked_range<int64_t>& band) {
    for (int64_t o = 0; o < O; ++o)
      for (int64_t c = band.begin(); c < band.end(); ++c) {
        const int16_t* src = w_live + (o * C + c) * kk;
        int16_t* dst = flipped + (c * O + o) * kk;
        for (int64_t i = 0; i < kk; ++i) dst[i] = src[kk - 1 - i];
      }
  });
}

// How many of the batch's output errors are nonzero, where the sparse ways
// could use the count: after a 2x2 max pool's backward, which passes each
// window's error to at most one of its four inputs (the CNN's conv2), at
// most one in four. Counted only where a vector kernel would take a sparse
// way (sparse_rows.hpp, sparse_input.hpp) and the first sample has at most
// one nonzero error in four (ResNet-18's convolutions get theirs from a
// LayerNorm's backward, all nonzero: one sample read), then per sample, in
// parallel; otherwise every error is counted as nonzero.
int64_t nonzero_errors(const Err& dout) {
  const int64_t batch = dout.batch(), m = dout.sample_numel();
  if (&sparse_rows::chosen() == &sparse_rows::detail::scalar_kernels &&
      &sparse_input::chosen() == &sparse_input::detail::scalar_kernels)
    return batch * m;
  auto nonzero_in = [&](int64_t n) {
    const int16_t* d = dout.sample(n);
    int32_t count = 0;  // m < 2^31 entries: int32 lanes
    for (int64_t i = 0; i < m; ++i) count += d[i] != 0 ? 1 : 0;
    return int64_t{count};
  };
  if (batch == 0 || 4 * nonzero_in(0) > m) return batch * m;
  return tbb::parallel_reduce(
      tbb::blocked_range<int64_t>(0, batch), int64_t{0},
      [&](const tbb::blocked_range<int64_t>& r, int64_t count) {
        for (int64_t n = r.begin(); n < r.end(); ++n) count += nonzero_in(n);
        return count;
      },
      [](int64_t a, int64_t b) { return a + b; });
}

// din of a stride-1 convolution from mostly-zero output errors: the
// transposed convolution g (filter `flipped`, stride1_transpose) on sparse
// inputs, int32 sums by position (the caller checked the bound), requantised
// as convolve's are (the largest |sum| and each value's rounding do not
// depend on the order), then transposed into (C, H·W): the same integers as
// convolve.
// packed: room for sparse_input::packed_size(g) values.
void sparse_input_error(Err& din, const Err& dout, const sparse_input::Geometry& g, const int16_t* flipped,
                        int32_t w_exp, const sparse_input::Kernels& kernel, int16_t* packed) {
  sparse_input::pack_weights(g, flipped, packed);
  const int64_t P = g.OH() * g.OW(), O = g.O;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, dout.batch()), [&](const tbb::blocked_range<int64_t>& r) {
    int32_t* scratch = thread_scratch<int32_t>(ScratchSlot::body0, static_cast<int64_t>(sparse_input::scratch_size(g)));
    auto* acc = static_cast<int32_t*>(thread_scratch_bytes(
        ScratchSlot::body1, static_cast<size_t>(P * O) * (sizeof(int32_t) + sizeof(int16_t))));  // (P, O)
    auto* by_position = reinterpret_cast<int16_t*>(acc + P * O);                                 // (P, O)
    const int16_t* rows[8];
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      kernel.sums(acc, dout.sample(n), packed, g, scratch);
      din.exp[n] = requantize(acc, P * O, dout.exp[n] + w_exp, by_position);
      // (P, O) -> (O, P): 8 x 8 blocks (transpose_rows.hpp), the last rows one by one.
      int16_t* out = din.sample(n);
      const int64_t full = P / 8 * 8;
      for (int64_t p0 = 0; p0 < full; p0 += 8) {
        for (int64_t j = 0; j < 8; ++j) rows[j] = by_position + (p0 + j) * O;
        for (int64_t o = 0; o < O; o += 8) detail::transpose_block(out + o * P + p0, P, rows, o);
      }
      for (int64_t p = full; p < P; ++p)
        for (int64_t o = 0; o < O; ++o) out[o * P + p] = by_position[p * O + o];
    }
  });
}

// dout (N,O,OH,OW), in (N,C,H,W) -> din (N,C,H,W), dW (O,C,k,k), db (O);
// X (input): int8_t or int16_t. kept: forward's live-tap weights, or nullptr.
template <class X>
void backward(Err* din, const Err& dout, const Tensor<X>& in, ParamSet& params, const Conv2dSpec& spec,
              const BatchReducer& reducer, const int16_t* kept) {
  assert(dout.shape == conv2d_out_shape(in.shape, spec));
  const Geometry full = geometry(in.shape, spec);
  const LiveTaps taps = live_taps(full);
  const Geometry& g = taps.live;  // the live taps (all of them but in small images)
  const int64_t batch = in.batch(), K = g.K(), P = g.P(), O = g.O, full_K = taps.full_K();
  const int16_t* w = params.weights(spec.weight);
  const int32_t w_exp = params.tensors[spec.weight].w_exp;

  const int64_t errors = batch * dout.sample_numel(), nonzero = nonzero_errors(dout);
  Geometry t;
  if (din != nullptr && stride1_transpose(full, t)) {
    assert(din->shape == in.shape);
    const LiveTaps t_taps = live_taps(t);
    const Geometry& tg = t_taps.live;
    int16_t* flipped = thread_scratch<int16_t>(ScratchSlot::caller2, tg.O * tg.K());
    if (kept != nullptr && flips_from_live(full, taps, t_taps))
      flip_live(taps, kept, flipped);
    else
      flip_filter(full, t_taps, w, flipped);
    // Output errors with at most one nonzero in eight skip their zeros
    // (sparse_input.hpp) where a vector kernel takes the geometry and the
    // int32 sums are exact; the dense way otherwise. The same integers
    // either way. (At one in four, the most a max pool leaves, both ways
    // take about as long: bench_model_step on random data; in training the
    // CNN's conv2 has under 1 % nonzero, docs/results.md.)
    // The packed weights' buffer is taken at every step where the sparse way
    // could run, so that a later step that takes it allocates nothing.
    const sparse_input::Kernels& by_inputs = sparse_input::chosen();
    const sparse_input::Geometry sg{tg.C, tg.H, tg.W, tg.O, tg.k, tg.pad};
    const bool could_skip = &by_inputs != &sparse_input::detail::scalar_kernels && by_inputs.handles(sg);
    int16_t* packed =
        could_skip ? thread_scratch<int16_t>(ScratchSlot::caller3, static_cast<int64_t>(sparse_input::packed_size(sg)))
                   : nullptr;
    if (could_skip && 8 * nonzero <= errors &&
        kernels::sum_fits_int32(tg.K(), kernels::max_abs(flipped, tg.O * tg.K()),
                                kernels::max_abs(dout.sample(0), batch * dout.sample_numel())))
      sparse_input_error(*din, dout, sg, flipped, w_exp, by_inputs, packed);
    else
      convolve(*din, dout, tg, Filter{flipped, w_exp});
  } else if (din != nullptr) {
    // Other strides: dcol = Wᵀ·dout per group of samples, added onto the
    // input pixels (col2im).
    assert(din->shape == in.shape);
    const int16_t* w_rows = w;  // the live taps' weights (O,K)
    if (!taps.all() && kept != nullptr) {
      w_rows = kept;
    } else if (!taps.all()) {
      int16_t* w_live = thread_scratch<int16_t>(ScratchSlot::caller1, O * K);
      live_weights(taps, w, w_live);
      w_rows = w_live;
    }
    int16_t* wt = thread_scratch<int16_t>(ScratchSlot::caller0, K * O);  // live Wᵀ (K,O)
    detail::transpose_rows(wt, O, K, [&](int64_t o) { return w_rows + o * K; });
    const int64_t w_max = kernels::max_abs(wt, O * K);
    // An input pixel takes at most ceil(k/stride)² taps per channel.
    const int64_t pixel_taps = (g.k + g.stride - 1) / g.stride * ((g.k + g.stride - 1) / g.stride);
    const int64_t G = group_samples(P, K), groups = (batch + G - 1) / G;
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, groups), [&](const tbb::blocked_range<int64_t>& r) {
      int16_t* dout_t = thread_scratch<int16_t>(ScratchSlot::body0, G * P * O);    // (L,O), L = samples·P
      void* dcol = thread_scratch<int64_t>(ScratchSlot::body1, G * P * K);         // (K,L), int32 or int64
      void* img = thread_scratch<int64_t>(ScratchSlot::body2, in.sample_numel());  // (C,H,W), int32 or int64
      for (int64_t grp = r.begin(); grp < r.end(); ++grp) {
        const int64_t n0 = grp * G, count = std::min(G, batch - n0), L = count * P;
        for (int64_t j = 0; j < count; ++j) {
          const int16_t* dy = dout.sample(n0 + j);
          int16_t* rows = dout_t + j * P * O;
          for (int64_t o = 0; o < O; ++o)
            for (int64_t p = 0; p < P; ++p) rows[p * O + o] = dy[o * P + p];
        }
        const int64_t d_max = kernels::max_abs(dout.sample(n0), count * O * P);
        // dcol (K,L) = Wᵀ (K,O) · dout_t (L,O)ᵀ, int32 where its O-term sums
        // fit; then each sample's columns added onto its input pixels, in
        // int32 where a pixel's O·taps terms fit, or failing that
        // ceil(k/stride)² of the largest |dcol|; and requantised.
        auto add_and_requantize = [&](auto* dc, auto* im) {
          for (int64_t j = 0; j < count; ++j) {
            const int64_t n = n0 + j;
            add_patch_columns(g, dc + j * P, L, im);
            din->exp[n] = requantize_i16(im, in.sample_numel(), dout.exp[n] + w_exp, din->sample(n));
          }
        };
        if (kernels::sum_fits_int32(O, w_max, d_max)) {
          int32_t* dc = static_cast<int32_t*>(dcol);
          kernels::gemm_nt(dc, L, wt, O, dout_t, O, K, L, O);
          if (kernels::sum_fits_int32(O * pixel_taps, w_max, d_max) ||
              kernels::sum_fits_int32(pixel_taps, kernels::max_abs(dc, K * L), 1))
            add_and_requantize(dc, static_cast<int32_t*>(img));
          else
            add_and_requantize(dc, static_cast<int64_t*>(img));
        } else {
          int64_t* dc = static_cast<int64_t*>(dcol);
          kernels::gemm_nt(dc, L, wt, O, dout_t, O, K, L, O);
          add_and_requantize(dc, static_cast<int64_t*>(img));
        }
      }
    });
  }

  // dW's batch alignment (conv2d_batch_sums.hpp). Integer sums are exact,
  // so the per-thread partials add up to the same result in any order:
  // bit-identical for any thread count.
  int32_t* shift = thread_scratch<int32_t>(ScratchSlot::caller0, batch);
  params.tensors[spec.weight].g_exp = detail::conv2d_weight_shifts<X>(
      dout.exp, in.exp, batch, P, thread_scratch<int32_t>(ScratchSlot::caller2, batch), shift, reducer);
  // Samples that join the batch sum with the same left shift form a run;
  // consecutive runs form a group of at most max_group samples, contracted
  // in ONE GEMM over their concatenated positions with a k segment per run
  // (sample_runs.hpp), so the (O,K) total is read and written once per
  // group, not once per sample or run (ResNet-18's deep layers have P =
  // 1..16 positions against O·K up to 2.4 M weights).
  const int64_t max_group = max_group_samples(P, K);
  const int64_t max_columns = max_group * (P + 1);  // a group's positions and its runs' pad columns
  int64_t* order = thread_scratch<int64_t>(ScratchSlot::caller2, batch);
  auto* run_words = static_cast<int64_t*>(thread_scratch_bytes(
      ScratchSlot::caller3,
      static_cast<size_t>(2 * (batch + 1)) * sizeof(int64_t) + static_cast<size_t>(batch) * sizeof(kernels::KSegment)));
  int64_t* begin = run_words;                  // run r: sorted samples order[begin[r] .. begin[r + 1])
  int64_t* first_run = run_words + batch + 1;  // group g: runs first_run[g] .. first_run[g + 1]
  auto* segment = reinterpret_cast<kernels::KSegment*>(first_run + batch + 1);  // run r's columns in its group
  const int64_t runs = detail::sort_into_runs(shift, batch, max_group, order, begin);
  const int64_t groups = detail::group_runs(shift, order, begin, runs, P, max_group, first_run, segment);
  auto columns = [&](int64_t grp) { return segment[first_run[grp + 1] - 1].end; };
  // The groups are cut into at most one chunk per thread (or, split by
  // column bands, form one chunk); each chunk sums its groups' products
  // into an (O,K) total of its own (chunk 0 straight into the gradient when
  // every tap is live), and the totals are added at the end, scattered into
  // (O, full_K) when only some taps are live (a tap that reads padding only
  // has gradient 0). Integer sums are exact, so the result is the same for
  // any number of chunks.
  int64_t* gw = params.grads(spec.weight);
  // Group grp's patches (K,L) and output errors (O,L) for its sorted samples
  // j in [j_begin, j_end); a run whose segment ends one column past its
  // samples (group_runs) has that column zeroed.
  auto gather_group = [&](int64_t grp, X* col, int16_t* dy, int64_t j_begin, int64_t j_end) {
    const int64_t r0 = first_run[grp], L = columns(grp);
    int64_t r = r0;
    for (int64_t j = j_begin; j < j_end; ++j) {
      while (begin[r + 1] <= j) ++r;
      const int64_t n = order[j], offset = (r == r0 ? 0 : segment[r - 1].end) + (j - begin[r]) * P;
      X* padded = thread_scratch<X>(ScratchSlot::body3, padded_size(g));
      pad_sample(g, in.sample(n), padded);
      patch_columns(g, padded, col + offset, L);
      const int16_t* d = dout.sample(n);
      for (int64_t o = 0; o < O; ++o) copy_short(d + o * P, P, dy + o * L + offset);
      if (j + 1 == begin[r + 1] && offset + P < segment[r].end) {
        for (int64_t kk = 0; kk < K; ++kk) col[kk * L + offset + P] = 0;
        for (int64_t o = 0; o < O; ++o) dy[o * L + offset + P] = 0;
      }
    }
  };
  // Group grp's product dy (rows,L) · col (cols,L)ᵀ joined onto total.
  auto join = [&](int64_t grp, int64_t* total, int64_t* partial, const int16_t* dy, const X* col, int64_t rows,
                  int64_t cols, bool first) {
    const int64_t r0 = first_run[grp], L = columns(grp);
    detail::join_group(total, K, partial, rows, cols, {segment + r0, static_cast<size_t>(first_run[grp + 1] - r0)},
                       first, [&](int64_t* c, int64_t ldc, std::span<const kernels::KSegment> s, bool add) {
                         kernels::gemm_nt_segmented(c, ldc, dy, L, col, L, rows, cols, L, s, add);
                       });
  };
  const int64_t threads = detail::usable_threads();
  int64_t largest = 0;
  for (int64_t grp = 0; grp < groups; ++grp)
    largest = std::max(largest, begin[first_run[grp + 1]] - begin[first_run[grp]]);
  // Output errors with at most one nonzero in four (nonzero_errors) take
  // sparse row products (sparse_rows.hpp) sample by sample instead of the
  // GEMMs, on int16 inputs and where a vector kernel runs.
  const bool sparse = std::is_same_v<X, int16_t> && 4 * nonzero <= errors &&
                      &sparse_rows::chosen() != &sparse_rows::detail::scalar_kernels;
  // Whole groups per thread balance only if no group is larger than a
  // thread's share of the batch; deep layers (few positions, large groups)
  // instead take the groups in turn and split each group's GEMM by bands of
  // the total's columns.
  const bool by_bands = !sparse && threads > 1 && largest * threads > batch;  // so groups >= 1
  const int64_t chunks = sparse     ? std::clamp<int64_t>(threads, 1, batch)
                         : by_bands ? 1
                                    : std::clamp<int64_t>(threads, 1, std::max<int64_t>(groups, 1));
  const int64_t first_in_scratch = taps.all() ? 1 : 0;
  // Which way runs depends on the batch's exponents, so both ways' scratch
  // is taken or announced at every step (scratch.hpp): a step that goes the
  // other way then finds the buffers large enough. This thread's own
  // buffers (caller slots) are taken at both ways' size (chunks <= threads);
  // the loop bodies' are announced, for whichever threads run them.
  const auto col_bytes = static_cast<size_t>((K * max_columns * static_cast<int64_t>(sizeof(X)) + 63) / 64 * 64);
  const size_t band_bytes = col_bytes + static_cast<size_t>(O * max_columns) * sizeof(int16_t);
  auto* shared = static_cast<char*>(
      thread_scratch_bytes(ScratchSlot::caller4, band_bytes));  // by bands: a group's patches, errors
  int64_t* chunk_gw = thread_scratch<int64_t>(ScratchSlot::caller1, (threads - first_in_scratch) * O * K);
  thread_scratch_expect(ScratchSlot::body0, static_cast<size_t>(std::max(K * max_columns, P * K)) * sizeof(X));
  const auto sparse_list_bytes = static_cast<size_t>(sparse_rows::list_size(P)) * sizeof(int32_t) +
                                 static_cast<size_t>(P);  // and which positions' patch rows to form
  thread_scratch_expect(ScratchSlot::body1,
                        std::max(static_cast<size_t>(O * max_columns) * sizeof(int16_t), sparse_list_bytes));
  thread_scratch_expect(ScratchSlot::body2, static_cast<size_t>(O * K) * sizeof(int64_t));
  auto total_of = [&](int64_t c) { return c < first_in_scratch ? gw : chunk_gw + (c - first_in_scratch) * O * K; };
  if (sparse) {
    // Each chunk of samples: a sample's patches as rows (P,K), its (O,K)
    // products, shifted onto the chunk's total.
    if constexpr (std::is_same_v<X, int16_t>) {
      const sparse_rows::Kernels& sparse_kernel = sparse_rows::chosen();
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, chunks, 1), [&](const tbb::blocked_range<int64_t>& r) {
        int16_t* rows = thread_scratch<int16_t>(ScratchSlot::body0, P * K);
        auto* list = static_cast<int32_t*>(thread_scratch_bytes(ScratchSlot::body1, sparse_list_bytes));
        auto* needed = reinterpret_cast<uint8_t*>(list + sparse_rows::list_size(P));  // (P)
        int64_t* partial = thread_scratch<int64_t>(ScratchSlot::body2, O * K);
        int16_t* padded = thread_scratch<int16_t>(ScratchSlot::body3, padded_size(g));
        for (int64_t c = r.begin(); c < r.end(); ++c) {
          int64_t* total = total_of(c);
          std::fill(total, total + O * K, int64_t{0});
          for (int64_t n = c * batch / chunks; n < (c + 1) * batch / chunks; ++n) {
            pad_sample(g, in.sample(n), padded);
            positions_with_errors(dout.sample(n), O, P, needed);
            patch_rows(g, padded, rows, needed);
            // A sample whose shift is negative rounds its own sum first.
            if (shift[n] >= 0) {
              sparse_kernel.add_sums(total, dout.sample(n), O, P, rows, K, list, shift[n]);
            } else {
              std::fill(partial, partial + O * K, int64_t{0});
              sparse_kernel.add_sums(partial, dout.sample(n), O, P, rows, K, list, 0);
              add_shifted(total, partial, O * K, shift[n]);
            }
          }
        }
      });
    }
  } else if (by_bands) {
    // A task's bands of columns share the group's errors (packed once per
    // task) and take their own rows of patches.
    constexpr int64_t kBandCols = 64;
    X* col = reinterpret_cast<X*>(shared);                         // (K,L)
    int16_t* dy = reinterpret_cast<int16_t*>(shared + col_bytes);  // (O,L)
    int64_t* total = total_of(0);
    for (int64_t grp = 0; grp < groups; ++grp) {
      const int64_t L = columns(grp);
      tbb::parallel_for(tbb::blocked_range<int64_t>(begin[first_run[grp]], begin[first_run[grp + 1]]),
                        [&](const tbb::blocked_range<int64_t>& r) { gather_group(grp, col, dy, r.begin(), r.end()); });
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, (K + kBandCols - 1) / kBandCols),
                        [&](const tbb::blocked_range<int64_t>& r) {
                          const int64_t k0 = r.begin() * kBandCols, cols = std::min(K, r.end() * kBandCols) - k0;
                          int64_t* partial = thread_scratch<int64_t>(ScratchSlot::body2, O * cols);  // (O,cols)
                          join(grp, total + k0, partial, dy, col + k0 * L, O, cols, grp == 0);
                        });
    }
  } else {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, chunks, 1), [&](const tbb::blocked_range<int64_t>& r) {
      X* col = thread_scratch<X>(ScratchSlot::body0, K * max_columns);             // (K,L): a group's patches
      int16_t* dy = thread_scratch<int16_t>(ScratchSlot::body1, O * max_columns);  // (O,L): its output errors
      int64_t* partial = thread_scratch<int64_t>(ScratchSlot::body2, O * K);       // (O,K)
      for (int64_t c = r.begin(); c < r.end(); ++c) {
        int64_t* total = total_of(c);
        const int64_t first = c * groups / chunks, last = (c + 1) * groups / chunks;
        if (first == last) std::fill(total, total + O * K, int64_t{0});
        for (int64_t grp = first; grp < last; ++grp) {
          gather_group(grp, col, dy, begin[first_run[grp]], begin[first_run[grp + 1]]);
          join(grp, total, partial, dy, col, O, K, grp == first);
        }
      }
    });
  }
  // Row by row, in parallel. With only some taps live, only the live taps'
  // entries are written: a tap that reads padding only has gradient 0, and
  // its entries already hold 0, since the tensor's gradient starts at 0
  // (ParamSet::add) and nothing else writes them (the same geometry every
  // step: the model's input shape). Clearing them each step wrote 8 of 9
  // entries for nothing in ResNet-18's last stage (2.4 M int64 per tensor,
  // 1 tap in 9 live: 19 MB a tensor).
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, O, kWeightRows), [&](const tbb::blocked_range<int64_t>& rows) {
    for (int64_t o = rows.begin(); o < rows.end(); ++o) {
      if (taps.all()) {
        int64_t* row = gw + o * K;
        for (int64_t c = 1; c < chunks; ++c) {
          const int64_t* part = total_of(c) + o * K;
          for (int64_t i = 0; i < K; ++i) row[i] += part[i];
        }
        continue;
      }
      int64_t* row = gw + o * full_K;
#ifndef NDEBUG
      int64_t live_values = 0;
      taps.for_each([&](int64_t, int64_t full) { live_values += row[full] != 0 ? 1 : 0; });
      assert(std::count(row, row + full_K, int64_t{0}) + live_values == full_K);  // the dead taps hold 0
#endif
      const int64_t* first = total_of(0) + o * K;
      taps.for_each([&](int64_t kk, int64_t full) { row[full] = first[kk]; });
      for (int64_t c = 1; c < chunks; ++c) {
        const int64_t* part = total_of(c) + o * K;
        taps.for_each([&](int64_t kk, int64_t full) { row[full] += part[kk]; });
      }
    }
  });

  if (spec.has_bias) {
    params.tensors[spec.bias].g_exp = detail::conv2d_bias_shifts(dout.exp, batch, P, shift, reducer);
    // In parallel over channels; a channel's sum over P < 2^16 positions
    // fits int32 (|dout| <= 2^15), which vectorises twice as wide.
    int64_t* gb = params.grads(spec.bias);
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, O), [&](const tbb::blocked_range<int64_t>& r) {
      for (int64_t o = r.begin(); o < r.end(); ++o) {
        int64_t total = 0;
        for (int64_t n = 0; n < batch; ++n) {
          const int16_t* dy = dout.sample(n) + o * P;
          int64_t s = 0;
          if (P < (int64_t{1} << 16)) {
            int32_t s32 = 0;
            for (int64_t p = 0; p < P; ++p) s32 += dy[p];
            s = s32;
          } else {
            for (int64_t p = 0; p < P; ++p) s += dy[p];
          }
          total += apply_shift(s, shift[n]);
        }
        gb[o] = total;
      }
    });
  }
}

}  // namespace

Shape conv2d_out_shape(const Shape& in, const Conv2dSpec& spec) {
  const Geometry g = geometry(in, spec);
  return Shape{in[0], g.O, g.OH, g.OW};
}

int64_t conv2d_live_weights_size(const Shape& in, const Conv2dSpec& spec) {
  const LiveTaps taps = live_taps(geometry(in, spec));
  return taps.all() ? 0 : taps.live.O * taps.live.K();
}

void conv2d_forward(const Activation& out, const Activation& in, const ParamSet& params, const Conv2dSpec& spec,
                    bool relu, int16_t* live_weights) {
  visit(out, in, [&](auto y, auto x) { forward(y, x, params, spec, relu, live_weights); });
}

void conv2d_backward(Err* din, const Err& dout, const Activation& in, ParamSet& params, const Conv2dSpec& spec,
                     const BatchReducer& reducer, const int16_t* live_weights) {
  visit(in, [&](auto x) { backward(din, dout, x, params, spec, reducer, live_weights); });
}

}  // namespace zimt
