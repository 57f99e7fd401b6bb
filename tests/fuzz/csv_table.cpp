// fuzz_csv_table: the CSV table reader (data/csv_table.cpp) through load_dataset, as a run loads
// data.name: csv_table, with the task applied (regression targets standardised, or class indices
// for task.name: classification).
//
// Input: byte 0 picks the variant (modulo their count); the rest is the CSV text. Variant 3 reads a
// separate test file: the text up to the first '\f' is data.csv.file, the rest data.csv.test_file.
// Every variant's target column is y; the seeds and the dictionary use the columns a, b, c, s, y.
#include "fuzz_common.h"

using esrun_fuzz::variants;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  esrun_fuzz::quiet();
  using esrun_fuzz::tagged;
  if (const std::string dir = esrun_fuzz::seeds_dir(); !dir.empty()) {
    const std::string table = "a,b,c,s,y\n1,2.5,red,train,0\n2,-1e3,blue,test,1\n3,0.25,red,train,1\n4,7,green,test,0\n";
    esrun_fuzz::write_seeds_and_exit(
        dir, {{"random-split", tagged(0, table)},
              {"classification-categorical", tagged(1, table)},
              {"split-column", tagged(2, table)},
              {"test-file", tagged(3, "a,b,c,s,y\n1,2,x,train,0.5\n3,4,y,train,1.5\n\f" "a,b,c,s,y\n5,6,x,test,2.5\n")},
              {"features-drop", tagged(4, table)},
              {"quoted-crlf", tagged(0, "a,b,c,s,y\r\n\"1\",\"2,5\",\"say \"\"hi\"\"\",train,3\r\n4,5,\"z\",test,6\r\n")},
              {"not-a-number", tagged(0, "a,b,c,s,y\n1,2,x,t,nan\n3,4,y,t,inf\n5,six,z,t,1\n")},
              {"ragged", tagged(2, "a,b,c,s,y\n1,2,3\n4,5,6,7,8,9\n")},
              {"open-quote", tagged(1, "a,b,c,s,y\n\"1,2,3,4,5\n")},
              {"header-only", tagged(0, "a,b,c,s,y\n\n  \n")}});
  }
  const std::string root = "data.root=" + (esrun_fuzz::scratch() / "csv").string();
  const std::vector<std::string> base = {"data.name=csv_table", root, "data.csv.file=train.csv", "data.csv.target=y",
                                         "model.name=mlp"};
  const auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), base.begin(), base.end());
    return esrun_fuzz::config_with(more);
  };
  variants().push_back(with({"data.csv.drop=[s, c]", "data.csv.test_fraction=0.5"}));
  variants().push_back(with({"task.name=classification", "data.csv.categorical=[c, s]"}));
  variants().push_back(with({"data.csv.split_column=s", "data.csv.test_values=[test]", "data.csv.categorical=[c]"}));
  variants().push_back(with({"data.csv.test_file=test.csv", "data.csv.categorical=[c, s]"}));
  variants().push_back(with({"data.csv.features=[a, b]", "data.csv.standardize=false", "task.name=classification",
                             "data.csv.split_seed=3", "data.csv.test_fraction=0.3"}));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t variant = data[0] % variants().size();
  const std::vector<std::string> names =
      variant == 3 ? std::vector<std::string>{"train.csv", "test.csv"} : std::vector<std::string>{"train.csv"};
  esrun_fuzz::load_from_files(variants()[variant], esrun_fuzz::scratch() / "csv", names,
                              esrun_fuzz::as_view(data + 1, size - 1));
  return 0;
}
