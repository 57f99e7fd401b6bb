#include "esrun/optim/optimizer.h"

namespace esrun {

OptimizerRegistry& optimizers() {
  static OptimizerRegistry registry("optimizer");
  return registry;
}

}  // namespace esrun
