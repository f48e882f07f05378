#include <doctest/doctest.h>

#include "float_ref.hpp"
#include "zimt/layers/flatten.hpp"

using namespace zimt;

TEST_CASE("flatten: exact copy of mantissas and exponents, both directions") {
  std::mt19937_64 rng(31);
  const Shape s{3, 4, 5, 2};
  auto x = ref::random_act(s, rng);
  CHECK(flatten_out_shape(s) == (Shape{3, 40}));
  ref::Owned<int8_t> y(flatten_out_shape(s));
  auto yv = y.view();
  flatten_forward(yv, x.view());
  CHECK(y.data == x.data);
  CHECK(y.exp == x.exp);
  auto dy = ref::random_err(Shape{3, 40}, rng);
  ref::Owned<int16_t> dx(s);
  auto dxv = dx.view();
  flatten_backward(dxv, dy.view());
  CHECK(dx.data == dy.data);
  CHECK(dx.exp == dy.exp);
}
