#include "zimt/layers/linear.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cassert>
#include <span>

#include "bias.hpp"
#include "sample_runs.hpp"
#include "transpose_rows.hpp"
#include "zimt/kernels/gemm.hpp"
#include "zimt/kernels/max_abs.hpp"
#include "zimt/kernels/narrow.hpp"
#include "zimt/layers/relu.hpp"
#include "zimt/quant.hpp"
#include "zimt/scratch.hpp"

namespace zimt {

Shape linear_out_shape(const Shape& in, const LinearSpec& spec) {
  assert(in.rank == 2 && in[1] == spec.in_features);
  return Shape{in[0], spec.out_features};
}

namespace {

// Samples per GEMM (the grain of the loops over the batch): enough rows for
// gemm_nt's packed micro-kernels (a single row runs dot products at a
// fraction of their rate), while a batch of 64 still gives 4 tasks.
constexpr int64_t kGemmRows = 16;

// Columns of the input error per task of its GEMM (four of the packed
// kernels' panels).
constexpr int64_t kBandColumns = 256;

// in (N,I), W (O,I), b (O) -> out (N,O) of element type T (int8 or int16)
template <class T, class X>
void forward(Tensor<T>& out, const Tensor<X>& in, const ParamSet& params, const LinearSpec& spec, bool relu) {
  const int64_t batch = in.batch(), I = spec.in_features, O = spec.out_features;
  assert(in.shape == (Shape{batch, I}) && out.shape == (Shape{batch, O}));
  const int16_t* w = params.weights(spec.weight);
  const int32_t w_exp = params.tensors[spec.weight].w_exp;
  // Under the int8 storage policy the GEMM reads the weights as int8:
  // int8 inputs then run gemm_nt's int8 x int8 kernel (vpdpbusd).
  int8_t* w8 = nullptr;
  if (params.storage == WeightStorage::int8) {
    w8 = thread_scratch<int8_t>(ScratchSlot::caller0, O * I);
    kernels::narrow_to_int8(w8, w, O * I);
  }
  // One GEMM per chunk of samples: acc (rows, O) = in[rows] (rows, I) · Wᵀ.
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, batch, kGemmRows), [&](const tbb::blocked_range<int64_t>& r) {
    const int64_t rows = r.end() - r.begin();
    int64_t* acc = thread_scratch<int64_t>(ScratchSlot::body0, rows * O);
    if (w8 == nullptr)
      kernels::gemm_nt(acc, O, in.sample(r.begin()), I, w, I, rows, O, I);
    else
      kernels::gemm_nt(acc, O, in.sample(r.begin()), I, w8, I, rows, O, I);
    for (int64_t n = r.begin(); n < r.end(); ++n) {
      int64_t* a = acc + (n - r.begin()) * O;
      int32_t e = in.exp[n] + w_exp;
      if (spec.has_bias) e = detail::join_bias(a, O, 1, e, params.weights(spec.bias), params.tensors[spec.bias].w_exp);
      out.exp[n] = requantize(a, O, e, out.sample(n));
      if (relu) relu_in_place(out.sample(n), O);
    }
  });
}

// The units o whose error dout[n, o] is nonzero for some sample n, in
// order, into live; returns their count. A unit whose error is 0 for the
// whole batch (a ReLU before it off for every sample: 88-91 of the CNN's
// 128 fc1 units in training) adds nothing to the input error and has a
// zero weight gradient.
int64_t live_units(const Err& dout, int64_t O, int64_t* live) {
  int64_t count = 0;
  for (int64_t o = 0; o < O; ++o) {
    int16_t any = 0;
    for (int64_t n = 0; n < dout.batch(); ++n) any |= dout.sample(n)[o];
    if (any != 0) live[count++] = o;
  }
  return count;
}

// dout (N,O), in (N,I) -> din (N,I), dW (O,I), db (O)
template <class X>
void backward(Err* din, const Err& dout, const Tensor<X>& in, ParamSet& params, const LinearSpec& spec,
              const BatchReducer& reducer) {
  const int64_t batch = in.batch(), I = spec.in_features, O = spec.out_features;
  assert(dout.shape == (Shape{batch, O}) && in.shape == (Shape{batch, I}));
  const int16_t* w = params.weights(spec.weight);
  const int32_t w_exp = params.tensors[spec.weight].w_exp;

  // The live units (live_units): both GEMMs take them alone when some are
  // not, with the same integers. The run bookkeeping of the weight
  // gradient shares this buffer.
  auto* words = static_cast<int64_t*>(
      thread_scratch_bytes(ScratchSlot::caller3, static_cast<size_t>(O + 3 * (batch + 1)) * sizeof(int64_t) +
                                                     static_cast<size_t>(batch) * sizeof(kernels::KSegment)));
  int64_t* live = words;
  const int64_t units = live_units(dout, O, live);

  if (din != nullptr) {
    assert(din->shape == in.shape);
    const int64_t w_max = kernels::max_abs(w, O * I);
    // acc (N, I) = dout (N, units) · W (units, I): the live units' rows of
    // W are gemm_rows' k rows (no transpose), their errors gathered when
    // some units are not live. In bands of I, one task each with every
    // sample, so that each band of W is packed once (one task per group of
    // samples packed all of it: four times 0.8 MB for the CNN's fc1); in
    // int32 where its units-term sums fit (the same exact sums, half the
    // bytes). Then each sample's row is requantised.
    auto* w_rows = thread_scratch<int64_t>(ScratchSlot::caller0, O);
    for (int64_t u = 0; u < units; ++u) w_rows[u] = live[u] * I;
    const int16_t* errors = dout.sample(0);  // (N, units)
    // Taken at every step, so that a later step with fewer live units finds it.
    auto* gathered = thread_scratch<int16_t>(ScratchSlot::caller2, batch * O);
    if (units < O) {
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t u = 0; u < units; ++u) gathered[n * units + u] = dout.sample(n)[live[u]];
      errors = gathered;
    }
    void* acc = thread_scratch<int64_t>(ScratchSlot::caller1, batch * I);
    auto multiply_and_requantize = [&](auto* a) {
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, (I + kBandColumns - 1) / kBandColumns),
                        [&](const tbb::blocked_range<int64_t>& r) {
                          for (int64_t band = r.begin(); band < r.end(); ++band) {
                            const int64_t i0 = band * kBandColumns, width = std::min(kBandColumns, I - i0);
                            kernels::gemm_rows(a + i0, I, errors, units, w + i0, w_rows, batch, width, units);
                          }
                        });
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, batch), [&](const tbb::blocked_range<int64_t>& r) {
        for (int64_t n = r.begin(); n < r.end(); ++n)
          din->exp[n] = requantize_i16(a + n * I, I, dout.exp[n] + w_exp, din->sample(n));
      });
    };
    if (kernels::sum_fits_int32(units, kernels::max_abs(errors, batch * units), w_max))
      multiply_and_requantize(static_cast<int32_t*>(acc));
    else
      multiply_and_requantize(static_cast<int64_t*>(acc));
  }

  // dW[o,i] = Σ_n dout[n,o]·in[n,i]·2^(e_dout[n] + e_in[n]). Tight term bound:
  // |dout| <= 32767 < 2^15 and |in| <= 127 < 2^7 (int8) or 32767 < 2^15
  // (int16), so |dout·in| < 2^22 resp. 2^30 (docs/design.md, "Bounds").
  constexpr int term_bits = product_sum_bits(magnitude_bits<int16_t>(), magnitude_bits<X>(), 1);
  int32_t* shift = thread_scratch<int32_t>(ScratchSlot::caller1, batch);
  {
    int32_t* sample_exp = thread_scratch<int32_t>(ScratchSlot::caller2, batch);
    for (int64_t n = 0; n < batch; ++n) sample_exp[n] = dout.exp[n] + in.exp[n];
    params.tensors[spec.weight].g_exp = align_batch(sample_exp, batch, term_bits, shift, reducer);
  }
  // Samples that join the batch sum with the same left shift form a run;
  // consecutive runs form a group, contracted in one GEMM with a k segment
  // per run (sample_runs.hpp), so that each tile of dW is read and written
  // once per group, not once per run (the MLP's fc1: 3-6 runs a step, one
  // group). Columns of the transposed operands: the groups one after the
  // other, each run's samples in order, a zero column after a run of odd
  // length that another follows in its group.
  int64_t* order = thread_scratch<int64_t>(ScratchSlot::caller2, 3 * batch + 1);
  int64_t* source = order + batch;  // column c holds sample source[c] (-1: a zero column); at most 2·batch
  int64_t* run_words = words + O;
  int64_t* begin = run_words;                     // run r: sorted samples order[begin[r] .. begin[r + 1])
  int64_t* first_run = begin + batch + 1;         // group g: runs first_run[g] .. first_run[g + 1]
  int64_t* first_column = first_run + batch + 1;  // group g: columns first_column[g] .. first_column[g + 1]
  auto* segment = reinterpret_cast<kernels::KSegment*>(first_column + batch + 1);  // run r's columns in its group
  const int64_t runs = detail::sort_into_runs(shift, batch, batch, order, begin);
  const int64_t groups = detail::group_runs(shift, order, begin, runs, 1, batch, first_run, segment);
  int64_t columns = 0;
  for (int64_t grp = 0; grp < groups; ++grp) {
    first_column[grp] = columns;
    for (int64_t r = first_run[grp]; r < first_run[grp + 1]; ++r) {
      const int64_t start = columns + (r == first_run[grp] ? 0 : segment[r - 1].end);
      for (int64_t j = begin[r]; j < begin[r + 1]; ++j) source[start + j - begin[r]] = order[j];
      if (start + begin[r + 1] - begin[r] < columns + segment[r].end) source[columns + segment[r].end - 1] = -1;
    }
    columns += segment[first_run[grp + 1] - 1].end;
  }
  first_column[groups] = columns;
  int16_t* dout_t = thread_scratch<int16_t>(ScratchSlot::caller0, O * columns);  // (O, columns)
  X* in_t = thread_scratch<X>(ScratchSlot::caller4, I * columns);                // (I, columns)
  // A zero column is transposed from any sample's row, then cleared.
  auto row_of = [&](int64_t c) { return source[c] < 0 ? 0 : source[c]; };
  detail::transpose_rows(dout_t, columns, O, [&](int64_t c) { return dout.sample(row_of(c)); });
  detail::transpose_rows(in_t, columns, I, [&](int64_t c) { return in.sample(row_of(c)); });
  for (int64_t c = 0; c < columns; ++c) {
    if (source[c] >= 0) continue;
    for (int64_t o = 0; o < O; ++o) dout_t[o * columns + c] = 0;
    for (int64_t i = 0; i < I; ++i) in_t[i * columns + c] = 0;
  }
  // The live units' rows of dout_t, moved up in place (row u from row live[u] >= u).
  for (int64_t u = 0; u < units; ++u)
    if (live[u] != u) std::copy_n(dout_t + live[u] * columns, columns, dout_t + u * columns);
  int64_t* gw = params.grads(spec.weight);
  constexpr int64_t kTile = 256;
  // The columns of dW are cut into tiles, each owned by one task, which adds
  // the groups in a fixed order: onto dW's rows when every unit is live,
  // else onto the live units' rows of a tile of its own, which then go to
  // their rows of dW, the other rows set to 0.
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, (I + kTile - 1) / kTile), [&](const tbb::blocked_range<int64_t>& r) {
    // One buffer for both, sized for every unit, so that no later step grows it.
    int64_t* partial = thread_scratch<int64_t>(ScratchSlot::body0, 2 * O * kTile);  // (units,tile)
    int64_t* tile = units < O ? partial + O * kTile : nullptr;                      // (units,tile)
    for (int64_t t = r.begin(); t < r.end(); ++t) {
      const int64_t i0 = t * kTile, width = std::min(kTile, I - i0);
      int64_t* total = tile != nullptr ? tile : gw + i0;
      const int64_t ld = tile != nullptr ? width : I;
      if (groups == 0)
        for (int64_t u = 0; u < units; ++u) std::fill(total + u * ld, total + u * ld + width, int64_t{0});
      for (int64_t grp = 0; grp < groups; ++grp) {
        const int64_t c0 = first_column[grp], L = first_column[grp + 1] - c0, r0 = first_run[grp];
        detail::join_group(total, ld, partial, units, width,
                           {segment + r0, static_cast<size_t>(first_run[grp + 1] - r0)}, grp == 0,
                           [&](int64_t* c, int64_t ldc, std::span<const kernels::KSegment> s, bool add) {
                             kernels::gemm_nt_segmented(c, ldc, dout_t + c0, columns, in_t + i0 * columns + c0, columns,
                                                        units, width, L, s, add);
                           });
      }
      if (tile == nullptr) continue;
      for (int64_t o = 0, u = 0; o < O; ++o) {
        int64_t* row = gw + o * I + i0;
        if (u < units && live[u] == o)
          std::copy_n(tile + u++ * width, width, row);
        else
          std::fill(row, row + width, int64_t{0});
      }
    }
  });

  if (spec.has_bias) {
    // db[o] = Σ_n dout[n,o]·2^e_dout[n]; |dout| < 2^16.
    params.tensors[spec.bias].g_exp = align_batch(dout.exp, batch, 16, shift, reducer);
    int64_t* gb = params.grads(spec.bias);
    for (int64_t o = 0; o < O; ++o) {
      int64_t s = 0;
      for (int64_t n = 0; n < batch; ++n) s += apply_shift(dout.sample(n)[o], shift[n]);
      gb[o] = s;
    }
  }
}

}  // namespace

void linear_forward(const Activation& out, const Activation& in, const ParamSet& params, const LinearSpec& spec,
                    bool relu) {
  visit(out, in, [&](auto y, auto x) { forward(y, x, params, spec, relu); });
}

void linear_backward(Err* din, const Err& dout, const Activation& in, ParamSet& params, const LinearSpec& spec,
                     const BatchReducer& reducer) {
  visit(in, [&](auto x) { backward(din, dout, x, params, spec, reducer); });
}

}  // namespace zimt
