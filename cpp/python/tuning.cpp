// Runtime settings: the tuning records and the tuner that writes them, and
// the process-wide switches (threads, executor) those settings name.
#include <tsbridge/process.h>
#include <tsbridge/tune.h>
#include <tsbridge/tuning.h>
#include <tsbridge/tuning_text.h>

#include "bindings.h"

namespace tsbridge::bindings {

namespace {

tsbridge::TuneOptions tune_options(double budget_seconds, const std::vector<int>& threads, double noise, int rounds,
                                   int clients, bool search_settings = true) {
  tsbridge::TuneOptions options;
  options.search_settings = search_settings;
  options.budget_seconds = budget_seconds;
  options.threads = threads;
  options.noise = noise;
  options.rounds = rounds;
  options.clients = clients;
  return options;
}

}  // namespace

void bind_tuning_types(py::module_& m) {
  using namespace tsbridge;
  py::class_<RuntimeSettings>(m, "RuntimeSettings", "How a model runs: threads, executor, fusion, runners.")
      .def_readonly("threads", &RuntimeSettings::threads)
      .def_readonly("optimize_graph", &RuntimeSettings::optimize_graph)
      .def_readonly("profiling_executor", &RuntimeSettings::profiling_executor)
      .def_readonly("onednn_fusion", &RuntimeSettings::onednn_fusion)
      .def_readonly("runners", &RuntimeSettings::runners)
      .def("__eq__", &RuntimeSettings::operator==)
      .def("__str__", &RuntimeSettings::to_string)
      .def("__repr__", [](const RuntimeSettings& s) { return "RuntimeSettings(" + s.to_string() + ")"; });
  py::class_<MachineInfo>(m, "MachineInfo", "The machine a tuning was measured on.")
      .def_readonly("arch", &MachineInfo::arch)
      .def_readonly("cpu_model", &MachineInfo::cpu_model)
      .def_readonly("cores", &MachineInfo::cores)
      .def_readonly("features", &MachineInfo::features)
      .def("matches", &MachineInfo::matches, py::arg("other"))
      .def("__str__", &MachineInfo::to_string)
      .def("__repr__", [](const MachineInfo& x) { return "MachineInfo(" + x.to_string() + ")"; });
  py::class_<TuningCandidate>(m, "TuningCandidate", "One candidate the tuner tried, its figure or why none.")
      .def_readonly("name", &TuningCandidate::name)
      .def_readonly("format", &TuningCandidate::format)
      .def_readonly("build", &TuningCandidate::build)
      .def_readonly("settings", &TuningCandidate::settings)
      .def_readonly("us_per_call", &TuningCandidate::us_per_call, "median microseconds per call; -1 when not timed")
      .def_readonly("spread", &TuningCandidate::spread)
      .def_readonly("status", &TuningCandidate::status, "'ok', 'failed: ...' or 'skipped: ...'")
      .def("__repr__", [](const TuningCandidate& c) {
        return Repr("TuningCandidate")("name", c.name)("us_per_call", c.us_per_call)("status", c.status).str();
      });
  py::class_<TuningRecord>(m, "TuningRecord", "What a tuning run found: every candidate, the winner and why.")
      .def_readonly("candidates", &TuningRecord::candidates)
      .def_readonly("winner_index", &TuningRecord::winner_index,
                    "index into candidates (the JSON's \"winner\" names it)")
      .def_readonly("settings", &TuningRecord::settings)
      .def_readonly("reason", &TuningRecord::reason)
      .def_readonly("noise", &TuningRecord::noise)
      .def_readonly("rounds", &TuningRecord::rounds)
      .def_readonly("machine", &TuningRecord::machine)
      .def_readonly("measured_at", &TuningRecord::measured_at)
      .def("json", &tuning_json, "The record as the manifest and a sidecar store it (JSON text).")
      .def("__repr__", [](const TuningRecord& r) {
        return Repr("TuningRecord")("settings", r.settings.to_string())("candidates", r.candidates.size()).str();
      });
  py::class_<AppliedTuning>(m, "AppliedTuning", "What Model.load applied of a recorded tuning.")
      .def_readonly("source", &AppliedTuning::source, "'sidecar', 'manifest' or '' (nothing applied)")
      .def_readonly("recorded", &AppliedTuning::recorded)
      .def_readonly("applied", &AppliedTuning::applied)
      .def_readonly("notes", &AppliedTuning::notes);
}

void bind_tune(py::module_& m) {
  using tsbridge::TuneFile;
  m.def(
      "tune",
      [](const std::vector<std::pair<std::string, std::string>>& files, double budget_seconds,
         const std::vector<int>& threads, double noise, int rounds, int clients, bool search_settings) {
        std::vector<TuneFile> list;
        for (const auto& [path, build] : files) list.push_back({path, build});
        const auto options = tune_options(budget_seconds, threads, noise, rounds, clients, search_settings);
        py::gil_scoped_release release;
        return tsbridge::tune(list, options);
      },
      py::arg("files"), py::arg("budget_seconds") = 60.0, py::arg("threads") = std::vector<int>{},
      py::arg("noise") = 0.05, py::arg("rounds") = 5, py::arg("clients") = 1, py::arg("search_settings") = true,
      "Tunes the files' runtime settings together (tsbridge::tune); files are (path, build) pairs.");
  m.def(
      "tune_runtime",
      [](const std::string& path, double budget_seconds, const std::vector<int>& threads, double noise, int rounds,
         int clients) {
        const auto options = tune_options(budget_seconds, threads, noise, rounds, clients);
        py::gil_scoped_release release;
        return tsbridge::tune_runtime(path, options);
      },
      py::arg("path"), py::arg("budget_seconds") = 60.0, py::arg("threads") = std::vector<int>{},
      py::arg("noise") = 0.05, py::arg("rounds") = 5, py::arg("clients") = 1,
      "Tunes the archive on this machine and writes its sidecar (tsrun --tune).");
  m.def("this_machine", &tsbridge::this_machine, py::return_value_policy::copy, "This machine (MachineInfo).");
  m.def("sidecar_path", &tsbridge::sidecar_path, py::arg("archive_path"), "'<archive>.tuning.json'.");
  m.def("parse_tuning", &tsbridge::parse_tuning, py::arg("json_text"), "A tuning record from its JSON text.");
}

void bind_process(py::module_& m) {
  m.def(
      "set_executor",
      [](std::optional<bool> profiling_executor, std::optional<bool> onednn_fusion) {
        tsbridge::set_executor({profiling_executor, onednn_fusion});
      },
      py::arg("profiling_executor") = py::none(), py::arg("onednn_fusion") = py::none(),
      "Sets TorchScript's process-wide executor switches (None leaves one as it is).");
  m.def(
      "set_threads", [](int intra_op, int inter_op) { tsbridge::set_threads({intra_op, inter_op}); },
      py::arg("intra_op") = 0, py::arg("inter_op") = 0,
      "Sizes LibTorch's thread pools (0 keeps the default); the inter-op pool only before it is first used.");
}

}  // namespace tsbridge::bindings
