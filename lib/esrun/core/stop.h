// Graceful stop. After install_stop_handlers(), the first SIGINT, SIGTERM or SIGUSR1 (Slurm's
// pre-emption warning with `--signal=USR1@...`) asks the run to stop after the current step: the
// trainer checkpoints and esrun exits with kInterruptedExitCode. A second signal exits at once with
// 128 + its number, leaving the files as they were (every checkpoint is written atomically).
#pragma once

namespace esrun {

// The exit code of a run that stopped on a signal after writing its checkpoint: resume it with
// `esrun --resume RUN_DIR`. (0: finished, 1: internal error, 2: bad input or a failed run.)
constexpr int kInterruptedExitCode = 3;

void install_stop_handlers();

// 0 while no stop was asked for, else the signal number that asked.
int stop_signal();

// The name of a signal number, e.g. "SIGTERM".
const char* signal_name(int signal);

}  // namespace esrun
