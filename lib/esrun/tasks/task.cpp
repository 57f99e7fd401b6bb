#include "esrun/tasks/task.h"

namespace esrun {

TaskRegistry& tasks() {
  static TaskRegistry registry("task");
  return registry;
}

}  // namespace esrun
