// sluice run beside GNU parallel: each case is a shell line run twice, once with $P standing
// for `parallel` and once for `sluice run`, and both must print the same and exit the same.
// The cases are rewritten from the behaviours GNU parallel's own test suite checks (its
// input sources, replacement strings, record forms and grouping), limited to what sluice
// documents; the differences sluice keeps on purpose are in docs/cli.md, not here. Debian's
// parallel is installed by scripts/install-deps.sh; without it the cases are skipped.
#include "cli_support.hpp"

#include <unistd.h>

namespace sluice::test {
namespace {

struct parity_case {
  const char* name;
  const char* line;  // $P is the tool; run in a scratch directory with the files below
};

const parity_case cases[] = {
    // Input sources: ::: lists, their combinations, linked lists, files.
    {"one list", "$P -k echo ::: a b c"},
    {"two lists combine, the last fastest", "$P -k echo {1}-{2} ::: a b ::: 1 2 3"},
    {"three lists", "$P -k echo ::: a b ::: 1 2 ::: x y"},
    {"positional beyond the sources is empty", "$P -k echo [{3}] ::: a ::: b"},
    {"reordered positions", "$P -k echo {2} {1} ::: a b ::: 1 2"},
    {"linked lists go together", "$P -k echo {1}={2} ::: a b c :::+ 1 2 3"},
    {"linked lists stop at the shorter", "$P -k echo {1}={2} ::: a b c :::+ 1 2"},
    {"linked and combined", "$P -k echo ::: a b :::+ 1 2 ::: x y"},
    {"a file source", "$P -k echo :::: abc"},
    {"a file and a list", "$P -k echo {1}{2} :::: abc ::: 1 2"},
    {"two files", "$P -k echo :::: abc :::: nums"},
    {"a file linked to a file", "$P -k echo {1}{2} :::: abc ::::+ nums"},
    {"-a", "$P -k -a abc echo"},
    {"-a twice", "$P -k -a abc -a nums echo"},
    {"standard input as a source", "printf 'x\\ny\\n' | $P -k echo {1}{2} :::: - ::: 1 2"},
    {"standard input", "printf 'a\\nb\\n' | $P -k echo"},
    {"an empty list runs nothing", "$P -k echo :::"},
    {"an empty argument is an input", "$P -k echo [{}] ::: a '' b"},
    {"an empty line is an input", "printf 'a\\n\\nb\\n' | $P -k echo [{}]"},
    {"a last line without newline", "printf 'a\\nb' | $P -k echo"},
    // Record forms: -0, -d.
    {"-0", "printf 'a b\\0c\\nd\\0' | $P -k -0 echo [{}]"},
    {"-0 keeps empty records", "printf 'a\\0\\0b' | $P -k -0 echo [{}]"},
    {"--null", "printf 'a\\0b\\0' | $P -k --null echo"},
    {"-d one character", "printf 'a,b,c' | $P -k -d , echo"},
    {"-d several characters", "printf 'aXYbXYc' | $P -k -d XY echo"},
    {"-d an escape", "printf 'a\\tb\\t' | $P -k -d '\\t' echo [{}]"},
    {"-d newline keeps carriage returns", "printf 'a\\r\\n' | $P -k -d '\\n' echo [{}] | od -c"},
    // Columns.
    {"--colsep", "printf 'a\\tb\\nc\\td\\n' | $P -k --colsep '\\t' echo {2} {1}"},
    {"--colsep appends the columns", "printf 'a,b\\n' | $P -k --colsep , echo"},
    {"--colsep a regex", "printf 'a  b \\n' | $P -k --colsep ' +' echo [{1}][{2}][{3}]"},
    {"--colsep empty columns at the ends",
     "printf ',a,\\n' | $P -k --colsep , echo [{1}][{2}][{3}]"},
    {"--colsep with forms",
     "printf 'd/f.x,e/g.y\\n' | $P -k --colsep , echo {1/} {2.} {1//} {2/.}"},
    {"--colsep over sources", "$P -k --colsep , echo [{1}][{2}][{3}] ::: a,b c ::: x"},
    // Replacement strings.
    {"forms of a path", "$P -k echo {} {.} {/} {//} {/.} ::: dir/sub/file.tar.gz"},
    {"{//} drops doubled and trailing slashes", "$P -k echo {//} ::: a//b a/b/ /a//b / a"},
    {"{.} of dot files", "$P -k echo [{.}] [{/.}] ::: .bashrc dir/.profile . a.b/c"},
    {"{/} after a trailing slash", "$P -k echo [{/}] ::: a/b/ /"},
    {"{#}", "$P -k echo {#} ::: a b c"},
    {"positional forms", "$P -k echo {1.} {2/} {2//} {2/.} ::: a.x ::: d/e.y"},
    {"no placeholder appends every argument", "$P -k echo ::: a b ::: 1"},
    {"a brace that is no placeholder", "$P -k echo {x ::: a"},
    // Grouping.
    {"-n 2", "$P -k -n 2 echo ::: a b c d e"},
    {"-n 2 with {}", "$P -k -n 2 echo x{}y ::: a b c"},
    {"-N 2 positional", "$P -k -N 2 echo {2}-{1} ::: a b c"},
    {"-N over combinations", "$P -k -N 2 echo ::: a b ::: 1 2"},
    {"-X repeats the word", "$P -k -j1 -X echo x{}y ::: a b c"},
    {"-m joins the arguments", "$P -k -j1 -m echo x{}y ::: a b c"},
    {"-X with -n", "$P -k -j1 -n 2 -X echo x{}y ::: a b c"},
    {"-X packs to -s", "seq 30000 | $P -k -j1 -X -s 50000 echo | awk '{print length}'"},
    {"-m packs within -s", "seq 100 | $P -k -j1 -m -s 100 echo | tr -d '\\n' | wc -c"},
    // Output.
    {"--tag", "$P -k --tag echo ::: a b ::: 1"},
    {"--tag every line", "$P -k --tag sh lines.sh ::: a"},
    {"--tag stderr", "$P -k --tag sh err.sh ::: e 2>&1"},
    // Exit status.
    {"failures count", "$P -k false ::: a b c; echo $?"},
    {"--halt now,fail=1: the failing task's status",
     "$P -j1 --halt now,fail=1 sh ex.sh ::: 0 3 4; echo $?"},
    {"--halt soon,fail=2: the failures", "$P -j1 --halt soon,fail=2 sh ex.sh ::: 3 0 4 5; echo $?"},
    {"--halt now,success=1: 0", "$P -j1 --halt now,success=1 sh ex.sh ::: 1 0 1; echo $?"},
    {"--halt soon,success=2: 0", "$P -j1 --halt soon,success=2 sh ex.sh ::: 1 0 1 0 1; echo $?"},
    {"--halt fail=50%: the percentage",
     "$P -j1 --halt soon,fail=50% sh ex.sh ::: 3 4 0 0; echo $?"},
    {"--halt done=2: the failures", "$P -j1 --halt now,done=2 sh ex.sh ::: 1 0 1; echo $?"},
    // The job log's columns (not its times) and --dry-run.
    {"--joblog", "rm -f log; $P -j1 --joblog log echo ::: a 'b c' >/dev/null; cut -f 1,2,5-9 log"},
    {"--joblog runtime width",
     "rm -f log; $P -j1 --joblog log true ::: a; awk -F'\\t' 'NR>1{print length($4)}' log"},
    {"--dry-run", "$P -k --dry-run echo {} {.} ::: a.b 'c d'"},
};

void PrintTo(const parity_case& c, std::ostream* os) {
  *os << c.line;
}

class ParallelParity : public ::testing::TestWithParam<parity_case> {};

std::string run_with(const temp_dir& d, const std::string& tool, const std::string& line) {
  const std::string script = "P='" + tool + "'; " + line;
  auto r = sluice_shell(d, script);
  return "exit " + std::to_string(r.code) + "\n" + r.out;
}

TEST_P(ParallelParity, SluiceRunPrintsWhatParallelPrints) {
  if (::access("/usr/bin/parallel", X_OK) != 0)
    GTEST_SKIP() << "GNU parallel is not installed (scripts/install-deps.sh installs it)";
  temp_dir d;
  write_file(d / "abc", "a\nb\nc\n");
  write_file(d / "nums", "1\n2\n");
  // (Scripts, not sh -c '...': parallel hands its command line to a shell, sluice does not.)
  write_file(d / "lines.sh", "printf 'x\\ny\\nz'\n");
  write_file(d / "err.sh", "echo \"$1\" >&2\n");
  write_file(d / "ex.sh", "exit $1\n");
  const std::string line = GetParam().line;
  // (--will-cite: no citation notice; HOME in the scratch directory: no ~/.parallel left.)
  const std::string parallel = "env HOME=" + d.path().string() + " parallel --will-cite";
  const std::string ours = std::string(SLUICE_CLI) + " run --no-progress";
  EXPECT_EQ(run_with(d, ours, line), run_with(d, parallel, line)) << line;
}

std::string case_name(const ::testing::TestParamInfo<parity_case>& info) {
  std::string n;
  for (const char* c = info.param.name; *c != '\0'; ++c)
    n += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
  return std::to_string(info.index) + "_" + n;
}

INSTANTIATE_TEST_SUITE_P(Cases, ParallelParity, ::testing::ValuesIn(cases), case_name);

}  // namespace
}  // namespace sluice::test
