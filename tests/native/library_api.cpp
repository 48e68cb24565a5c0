// The library calls an app uses beyond load and forward, driven by
// tests/test_library_api.py, which checks every line against PyTorch:
//   library_api MODEL.pt DIR PAIR.pt
// DIR holds inputs.npz (the model's inputs by name); results go to DIR as
// .npy files, and one line per check to stdout. PAIR.pt's forward takes one
// [batch, 4] tensor and returns a tensor and an int: a result no tensor call
// can return.
#include <iostream>
#include <string>
#include <vector>

#include <tsbridge/tsbridge.h>

namespace {

void say_error(const std::string& what, const tsbridge::Error& e) {
  std::cout << what << " " << tsbridge::error_code_name(e.code()) << " " << e.what() << "\n";
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ",") + item;
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return 64;
  const std::string dir = argv[2];
  const auto model = tsbridge::Model::load(argv[1]);

  // Inputs from a file by name, put in the declared order.
  const auto& specs = model.inputs();
  const auto by_name = tsbridge::read_input_files({{"", dir + "/inputs.npz"}}, specs);
  std::vector<at::Tensor> ordered;
  for (const auto& spec : specs) ordered.push_back(by_name.at(spec.name));

  const auto tensors = model.forward_tensors(ordered);
  for (size_t i = 0; i < tensors.size(); ++i)
    tsbridge::write_npy(dir + "/tensor" + std::to_string(i) + ".npy", tensors[i]);

  std::vector<std::string> names;
  const auto result = model.forward(std::vector<c10::IValue>(ordered.begin(), ordered.end()));
  for (const auto& leaf : model.output_leaves("forward", result)) names.push_back(leaf.name);
  std::cout << "leaves " << joined(names) << "\n";

  try {
    model.check_inputs("forward", {ordered[0]});
  } catch (const tsbridge::Error& e) {
    say_error("check_inputs", e);
  }
  try {
    model.check_inputs("forward", {ordered[0], ordered[1].to(at::kDouble)});
  } catch (const tsbridge::Error& e) {
    say_error("check_dtype", e);
  }

  const auto warm = model.warm_up("double", {ordered[0]}, 3);
  std::cout << "warm_up " << warm.calls << "\n";
  try {
    model.inputs("nope");
  } catch (const tsbridge::Error& e) {
    say_error("inputs", e);
  }

  const tsbridge::Manifest& manifest = *model.manifest();
  std::cout << "labels " << joined(*manifest.metadata_strings("labels")) << "\n";
  std::cout << "version " << *manifest.metadata_number("version") << "\n";
  std::cout << "absent " << manifest.metadata_string("absent").has_value() << "\n";
  try {
    manifest.metadata_string("labels");
  } catch (const tsbridge::Error& e) {
    say_error("wrong_kind", e);
  }

  tsbridge::BatchOptions batch;
  batch.batch_size = 3;
  const auto streamed = tsbridge::run_batches(model, by_name, dir + "/batches.npz", batch);
  std::cout << "batches " << streamed.rows << " " << streamed.batches << "\n";

  tsbridge::LoadOptions other_format;
  other_format.aoti = tsbridge::AotiOptions{2};
  try {
    tsbridge::Model::load(argv[1], other_format);
  } catch (const tsbridge::Error& e) {
    say_error("load", e);
  }

  // One fault, one code, whichever tensor call meets it.
  const auto pair = tsbridge::Model::load(argv[3]);
  try {
    pair.forward(ordered[0]);
  } catch (const tsbridge::Error& e) {
    say_error("forward_one_tensor", e);
  }
  try {
    pair.forward_tensors({ordered[0]});
  } catch (const tsbridge::Error& e) {
    say_error("forward_tensors", e);
  }
  return 0;
}
