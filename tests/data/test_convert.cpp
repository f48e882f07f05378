// zimt::data::convert: IDX / CIFAR-10 / CSV -> .zds round trips, every bad
// input rejected with a message naming the file and no output left, the
// deterministic hold-out split, and the synthetic generator.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "dataset_fixtures.hpp"
#include "zimt/data/convert.hpp"
#include "zimt/data/dataset.hpp"
#include "zimt/data/split.hpp"
#include "zimt/data/synth.hpp"

using namespace zimt::data;
using zimt::test::cifar_records;
using zimt::test::gzip;
using zimt::test::idx_images;
using zimt::test::idx_labels;
using zimt::test::TempDir;
using zimt::test::write_bytes;

namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The error convert(o) throws ("" if none), after checking it left no output.
std::string convert_error(const ConvertOptions& o, const TempDir& dir, size_t inputs) {
  std::string what;
  try {
    convert(o);
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  CHECK(dir.files().size() == inputs);  // neither output nor temporary files
  return what;
}

}  // namespace

TEST_CASE("convert: IDX -> zds -> reader equals the source bytes, raw and gzip") {
  const auto images = idx_images(37, 5, 6);
  const auto labels = idx_labels(37, 10);
  for (const bool gz : {false, true}) {
    CAPTURE(gz);
    TempDir dir;
    write_bytes(dir / "im", gz ? gzip(images) : images);
    write_bytes(dir / "lb", gz ? gzip(labels) : labels);
    ConvertOptions o;
    o.images = dir / "im";
    o.labels = dir / "lb";
    o.output = dir / "out.zds";
    const auto r = convert(o);
    CHECK(r.written == 37);
    CHECK(r.classes == 10);
    const auto d = Dataset::open(o.output);
    CHECK(d.size() == 37);
    CHECK(d.shape() == Shape{1, 5, 6});
    CHECK(std::memcmp(d.images(), images.data() + 16, 37 * 30) == 0);
    CHECK(std::memcmp(d.labels(), labels.data() + 8, 37) == 0);
  }
}

TEST_CASE("convert: positional IDX files are recognised by their magic, in either order") {
  TempDir dir;
  write_bytes(dir / "a", idx_labels(4, 3));
  write_bytes(dir / "b", gzip(idx_images(4, 2, 2)));
  ConvertOptions o;
  o.inputs = {dir / "a", dir / "b"};
  o.output = dir / "out.zds";
  CHECK(detect_format(dir / "b") == InputFormat::idx);
  convert(o);
  const auto d = Dataset::open(o.output);
  CHECK(d.size() == 4);
  CHECK(d.label(2) == 2);
  CHECK(d.image(3)[3] == 7 * 3 + 3 + 1);
}

TEST_CASE("convert: CIFAR-10 batches concatenate in order, with --limit and --classes") {
  TempDir dir;
  write_bytes(dir / "b1.bin", cifar_records(3, 0));
  write_bytes(dir / "b2.bin", cifar_records(4, 3));
  ConvertOptions o;
  o.cifar = {dir / "b1.bin", dir / "b2.bin"};
  o.output = dir / "out.zds";
  o.limit = 6;
  o.classes = 10;
  convert(o);
  const auto d = Dataset::open(o.output);
  CHECK(d.size() == 6);
  CHECK(d.shape() == Shape{3, 32, 32});
  CHECK(d.classes() == 10);
  for (uint32_t i = 0; i < 6; ++i) {
    CHECK(d.label(i) == i);
    CHECK(d.image(i)[0] == i);
    CHECK(d.image(i)[3071] == static_cast<uint8_t>(i + 3071));
  }
  CHECK(detect_format(dir / "b1.bin") == InputFormat::cifar);
}

TEST_CASE("convert: CSV with and without a header line") {
  for (const bool header : {false, true}) {
    CAPTURE(header);
    TempDir dir;
    write_text(dir / "d.csv",
               std::string(header ? "label,p0,p1,p2,p3\n" : "") + "1,0,10,200,255\r\n\n 0 , 5,6,7,8\n2,1,2,3,4");
    ConvertOptions o;
    o.csv = dir / "d.csv";
    o.shape = Shape{1, 2, 2};
    o.output = dir / "out.zds";
    convert(o);
    const auto d = Dataset::open(o.output);
    REQUIRE(d.size() == 3);
    CHECK(d.classes() == 3);
    CHECK(std::vector<uint8_t>(d.labels(), d.labels() + 3) == std::vector<uint8_t>{1, 0, 2});
    CHECK(std::vector<uint8_t>(d.images(), d.images() + 12) ==
          std::vector<uint8_t>{0, 10, 200, 255, 5, 6, 7, 8, 1, 2, 3, 4});
    CHECK(detect_format(dir / "d.csv") == InputFormat::csv);
  }
}

TEST_CASE("convert: each bad input is rejected naming the file, and nothing is written") {
  TempDir dir;
  ConvertOptions o;
  o.output = dir / "out.zds";
  const std::string im = dir / "im", lb = dir / "lb";
  o.images = im;
  o.labels = lb;

  SUBCASE("truncated image file") {
    auto b = idx_images(10, 4, 4);
    b.resize(b.size() - 5);
    write_bytes(im, b);
    write_bytes(lb, idx_labels(10, 3));
    CHECK(convert_error(o, dir, 2) == im + ": truncated: 155 data bytes, dimensions say 160");
  }
  SUBCASE("truncated gzip stream") {
    auto b = gzip(idx_images(10, 4, 4));
    b.resize(b.size() / 2);
    write_bytes(im, b);
    write_bytes(lb, idx_labels(10, 3));
    CHECK(convert_error(o, dir, 2) == im + ": corrupt or truncated gzip data");
  }
  SUBCASE("wrong magic") {
    write_bytes(im, idx_labels(10, 3));
    write_bytes(lb, idx_labels(10, 3));
    CHECK(convert_error(o, dir, 2) == im + ": wrong magic 0x00000801, expected 0x00000803 (IDX u8 images)");
  }
  SUBCASE("count mismatch") {
    write_bytes(im, idx_images(10, 4, 4));
    write_bytes(lb, idx_labels(9, 3));
    CHECK(convert_error(o, dir, 2) == lb + ": 9 labels but " + im + " has 10 images");
  }
  SUBCASE("label >= --classes") {
    write_bytes(im, idx_images(10, 4, 4));
    write_bytes(lb, idx_labels(10, 5));
    o.classes = 4;
    CHECK(convert_error(o, dir, 2) == lb + ": sample 4 has label 4 >= class count 4 (--classes)");
  }
  SUBCASE("empty input") {
    write_bytes(im, {});
    write_bytes(lb, idx_labels(10, 3));
    CHECK(convert_error(o, dir, 2) == im + ": empty file");
  }
  SUBCASE("existing output without --force, replaced with it") {
    write_bytes(im, idx_images(10, 4, 4));
    write_bytes(lb, idx_labels(10, 3));
    write_bytes(o.output, {1, 2, 3});
    CHECK(convert_error(o, dir, 3) == o.output + ": already exists (pass --force to overwrite)");
    CHECK(zimt::test::read_bytes(o.output).size() == 3);
    o.force = true;
    convert(o);
    CHECK(Dataset::open(o.output).size() == 10);
  }
}

TEST_CASE("convert: bad CIFAR and CSV inputs") {
  TempDir dir;
  ConvertOptions o;
  o.output = dir / "out.zds";
  const std::string f = dir / "in";
  SUBCASE("CIFAR truncated record") {
    auto b = cifar_records(2);
    b.pop_back();
    write_bytes(f, b);
    o.cifar = {f};
    CHECK(
        convert_error(o, dir, 1) ==
        f + ": size 6145 is not a multiple of 3073 (1 label + 3072 pixel bytes per record): truncated or not CIFAR-10");
  }
  SUBCASE("CIFAR empty") {
    write_bytes(f, {});
    o.cifar = {f};
    CHECK(convert_error(o, dir, 1) == f + ": empty file");
  }
  o.csv = f;
  o.shape = Shape{1, 1, 3};
  SUBCASE("CSV row of the wrong length") {
    write_text(f, "1,2,3,4\n1,2,3\n");
    CHECK(convert_error(o, dir, 1) == f + ":2: 3 fields, expected 4 (label + 3 pixels for shape 1x1x3)");
  }
  SUBCASE("CSV non-numeric value") {
    write_text(f, "1,2,3,4\n1,2,x,4\n");
    CHECK(convert_error(o, dir, 1) == f + ":2: field 3 'x' is not an integer");
  }
  SUBCASE("CSV out-of-range value") {
    write_text(f, "p,a,b,c\n1,2,256,4\n");
    CHECK(convert_error(o, dir, 1) == f + ":2: field 3 value 256 outside 0..255");
  }
  SUBCASE("CSV negative label") {
    write_text(f, "-1,2,3,4\n");
    CHECK(convert_error(o, dir, 1) == f + ":1: field 1 value -1 outside 0..255");
  }
  SUBCASE("CSV with only a header") {
    write_text(f, "label,a,b,c\n");
    CHECK(convert_error(o, dir, 1) == f + ": no samples");
  }
  SUBCASE("CSV without --shape") {
    write_text(f, "1,2,3,4\n");
    o.shape.reset();
    CHECK(convert_error(o, dir, 1) == "CSV input needs --shape C,H,W");
  }
}

TEST_CASE("split: the held-out part is a deterministic function of the seed") {
  const auto a = held_out_indices(1000, 100, 7);
  CHECK(a.size() == 100);
  CHECK(std::is_sorted(a.begin(), a.end()));
  CHECK(std::adjacent_find(a.begin(), a.end()) == a.end());  // distinct
  CHECK(a.back() < 1000);
  CHECK(held_out_indices(1000, 100, 7) == a);
  CHECK(held_out_indices(1000, 100, 8) != a);
  // The first j draws do not depend on how many are held out in total.
  const auto small = held_out_indices(1000, 10, 7);
  for (uint64_t i : small) CHECK(std::binary_search(a.begin(), a.end(), i));

  CHECK(parse_split("0.1", 1000) == 100);
  CHECK(parse_split("0.0005", 1000) == 1);  // 0.5 rounds away from zero
  CHECK(parse_split("250", 1000) == 250);
  CHECK_THROWS_WITH_AS(parse_split("1000", 1000),
                       "--split 1000 holds out 1000 of 1000 samples; both parts must be non-empty", std::runtime_error);
  CHECK_THROWS_WITH_AS(parse_split("1.5", 1000), "--split: expected a fraction in (0,1) or a sample count, got '1.5'",
                       std::runtime_error);
}

TEST_CASE("convert --split writes both parts, disjoint and complete, in source order") {
  TempDir dir;
  write_bytes(dir / "im", idx_images(50, 2, 2));
  write_bytes(dir / "lb", idx_labels(50, 5));
  ConvertOptions o;
  o.images = dir / "im";
  o.labels = dir / "lb";
  o.output = dir / "train.zds";
  o.split = "0.2";
  o.split_seed = 3;
  o.split_out = dir / "val.zds";
  const auto r = convert(o);
  CHECK(r.written == 40);
  CHECK(r.held_out == 10);
  const auto train = Dataset::open(o.output);
  const auto val = Dataset::open(o.split_out);
  // Walk the source in order: each sample is the next of its part.
  const auto held = held_out_indices(50, 10, 3);
  const auto images = idx_images(50, 2, 2);
  uint64_t t = 0, v = 0;
  for (uint64_t i = 0; i < 50; ++i) {
    const bool is_held = std::binary_search(held.begin(), held.end(), i);
    const uint8_t* got = is_held ? val.image(v) : train.image(t);
    const uint8_t label = is_held ? val.label(v++) : train.label(t++);
    CHECK(std::memcmp(got, images.data() + 16 + 4 * i, 4) == 0);
    CHECK(label == i % 5);
  }
  CHECK(t == 40);
  CHECK(v == 10);
  CHECK(val.classes() == 5);  // classes come from the whole set
}

TEST_CASE("synth: deterministic, seed-dependent, every class present, noise as asked") {
  SynthSpec spec{.samples = 2000, .classes = 4, .shape = {1, 12, 12}, .seed = 5, .noise_q16 = 6554};  // noise 0.1
  const auto a = synthesize(spec);
  CHECK(a.count() == 2000);
  CHECK(a.images.size() == 2000 * 144);
  CHECK(synthesize(spec).images == a.images);
  CHECK(synthesize(spec).labels == a.labels);
  spec.seed = 6;
  CHECK(synthesize(spec).images != a.images);
  spec.seed = 5;
  // A later part of the same sequence: sample `first + n` is sample n of a longer run.
  SynthSpec tail = spec;
  tail.samples = 500;
  tail.first = 1500;
  const auto b = synthesize(tail);
  CHECK(std::equal(b.images.begin(), b.images.end(), a.images.begin() + 1500 * 144));
  CHECK(std::equal(b.labels.begin(), b.labels.end(), a.labels.begin() + 1500));
  // Labels are uniform over 4 classes: each count is Binomial(2000, 1/4),
  // sd = sqrt(2000 * 3/16) = 19.4; 6 sd = 116.
  for (uint8_t k = 0; k < 4; ++k) {
    const auto n = std::count(a.labels.begin(), a.labels.end(), k);
    CHECK(n > 500 - 116);
    CHECK(n < 500 + 116);
  }
  // Noisy against clean, sample for sample: a pixel changes when it is
  // replaced (p = 6554/65536) by a different value (p = 255/256), so the
  // count is Binomial(288000, 0.0997): mean 28688, sd 161; allow 6 sd.
  spec.seed = 5;
  spec.noise_q16 = 0;
  const auto clean = synthesize(spec);
  CHECK(clean.labels == a.labels);
  uint64_t changed = 0;
  for (size_t j = 0; j < a.images.size(); ++j) changed += a.images[j] != clean.images[j];
  CHECK(changed > 28688 - 966);
  CHECK(changed < 28688 + 966);
}
