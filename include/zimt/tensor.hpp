#pragma once
// The one tensor type of the engine, and the calling convention of its layers.
//
// NUMBERS
//   A Tensor<T> is a contiguous row-major view (NCHW for images, (N,F) for
//   features) over storage it does not own (an Arena or a std::vector).
//   Dimension 0 is always the batch. Every sample n carries its own
//   power-of-two exponent:
//       real(n, ...) = data[n, ...] * 2^exp[n]
//   Per-sample exponents (not one per tensor) because one outlier sample or
//   one peaked LayerNorm output must not round the rest of the batch to zero
//   (docs/design.md, "Numbers and scales"); within a sample the scale comes from that sample's maximum
//   (see quant.hpp), and the LayerNorm owner may choose another rule.
//
//   Act = Tensor<int8_t>   activations: mantissas in [-127, 127] (-128 never used)
//   Err = Tensor<int16_t>  error signals dL/d(activation), mantissas in
//                          [-32767, 32767]; why 16 bits: docs/design.md,
//                          "Precision policy".
//                          Requantised by requantize_i16 (quant.hpp), which
//                          never flushes a nonzero error to 0 (kept at ±1).
//   Weights/biases live in ParamSet (int16 storage, bounded by the policy,
//   real = w * 2^w_exp); weight gradients go to ParamSet::g as exact int64
//   mantissas on one per-tensor exponent g_exp (never clipped).
//   Accumulators are int64 (exact: every bound is stated at the kernel).
//
// LAYER CALLING CONVENTION (llm.c style free functions, one file per layer)
//   <layer>_out_shape(in_shape, params...)            -> Shape of the output
//   <layer>_forward(const Activation& out, const Activation& in, [const ParamSet&, const Spec&])
//   <layer>_backward(Err* din, const Err& dout, const Activation& in, [const Activation& out,]
//                    [ParamSet& (writes g and g_exp of the layer's tensors), const Spec&])
//   - One forward and one backward entry per layer: the element type of an
//     activation (int8 or int16) travels with the Activation view below;
//     the model's width pass (model.hpp) decides it per layer.
//   - The CALLER allocates every output (out, din) with the right shape from an
//     Arena (make_tensor); layers write every element and every exponent of
//     what they are given and never allocate tensors visible to others
//     (internal scratch is their own business).
//   - din may be nullptr where no input error is needed (the first layer).
//   - Backward OVERWRITES the layer's gradients in ParamSet::g (no weight is
//     shared between layers in zimt's models), and sets their g_exp.
//   - Layers only read `in`/`out` saved from the forward pass; nothing is cached
//     between calls, so forward and backward are pure functions of their args.
//   - Parallel loops own their outputs; integer sums are exact, so results are
//     bit-identical for any thread count.
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

namespace zimt {

// Up to 4 dimensions; unused trailing dimensions are 1 and not counted in rank.
struct Shape {
  std::array<int64_t, 4> d{1, 1, 1, 1};
  int rank = 0;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {
    assert(dims.size() <= 4);
    for (int64_t v : dims) d[static_cast<size_t>(rank++)] = v;
  }
  int64_t operator[](int i) const { return d[static_cast<size_t>(i)]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= d[static_cast<size_t>(i)];
    return n;
  }
  // Elements per sample (everything but dimension 0), also of an empty batch
  // (a process's share of a small batch may hold no sample).
  int64_t sample_numel() const {
    int64_t n = 1;
    for (int i = 1; i < rank; ++i) n *= d[static_cast<size_t>(i)];
    return n;
  }
  bool operator==(const Shape& o) const {
    if (rank != o.rank) return false;
    for (int i = 0; i < rank; ++i)
      if (d[static_cast<size_t>(i)] != o.d[static_cast<size_t>(i)]) return false;
    return true;
  }
};

template <class T>
struct Tensor {
  T* data = nullptr;
  int32_t* exp = nullptr;  // shape[0] exponents, one per sample
  Shape shape;

  int64_t batch() const { return shape[0]; }
  int64_t numel() const { return shape.numel(); }
  int64_t sample_numel() const { return shape.sample_numel(); }
  T* sample(int64_t n) { return data + n * sample_numel(); }
  const T* sample(int64_t n) const { return data + n * sample_numel(); }
};

using Act = Tensor<int8_t>;
using Err = Tensor<int16_t>;

// Element type of an activation tensor: int8 (what most GEMMs read) or
// int16 (where the precision policy asks for it: docs/design.md,
// "Precision policy"; model.hpp says which layers).
enum class ActivationWidth : uint8_t { int8, int16 };

// "int8", "int16" (the JSON spelling).
constexpr const char* activation_width_name(ActivationWidth w) { return w == ActivationWidth::int8 ? "int8" : "int16"; }

template <class T>
constexpr ActivationWidth width_of() {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2, "activations are int8_t or int16_t");
  return sizeof(T) == 1 ? ActivationWidth::int8 : ActivationWidth::int16;
}

// An activation of either width: a Tensor view that carries its element
// type. Every layer has one forward and one backward entry taking these;
// kernels inside a layer are templates on the element type, reached through
// visit(). Converts implicitly from Tensor<int8_t> and Tensor<int16_t>.
struct Activation {
  ActivationWidth width = ActivationWidth::int8;
  void* data = nullptr;
  int32_t* exp = nullptr;  // shape[0] exponents, one per sample
  Shape shape;

  Activation() = default;
  template <class T>
  Activation(const Tensor<T>& t) : width(width_of<T>()), data(t.data), exp(t.exp), shape(t.shape) {}

  int64_t batch() const { return shape[0]; }
  // The typed view; T must match `width`.
  template <class T>
  Tensor<T> as() const {
    assert(width == width_of<T>());
    return Tensor<T>{static_cast<T*>(data), exp, shape};
  }
};

// f(Tensor<int8_t>) or f(Tensor<int16_t>), as a.width says.
template <class F>
decltype(auto) visit(const Activation& a, F&& f) {
  if (a.width == ActivationWidth::int8) return f(a.as<int8_t>());
  return f(a.as<int16_t>());
}

// f(Tensor<Y>, Tensor<X>) for the widths of out and in.
template <class F>
decltype(auto) visit(const Activation& out, const Activation& in, F&& f) {
  return visit(out, [&](auto y) { return visit(in, [&](auto x) { return f(y, x); }); });
}

// The element type of a Tensor (for templates reached through visit).
template <class TensorT>
using element_of = std::remove_pointer_t<decltype(TensorT::data)>;

// The rounding of a requantisation to int8 where a layer has a choice
// (docs/design.md, "Rounding"):
//   keep_sign: round-half-even, but a nonzero value never becomes 0 (it
//              becomes ±1): a ReLU mask downstream sees the exact sign;
//   nearest:   round-half-even to the nearest int8 (a value below half a
//              step becomes 0), where a GEMM rather than a ReLU mask reads
//              the result.
enum class Rounding : uint8_t { keep_sign, nearest };

// The same storage seen with another shape of equal numel and the same batch
// (flatten, reshape): no copy.
template <class T>
Tensor<T> reshaped(const Tensor<T>& t, Shape s) {
  assert(s.numel() == t.numel() && s[0] == t.shape[0]);
  return Tensor<T>{t.data, t.exp, s};
}

}  // namespace zimt
