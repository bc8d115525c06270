// Package schedule provides learning-rate schedules with the semantics of
// PyTorch 1.13's torch.optim.lr_scheduler, and AutoDrop as one of them,
// behind one small interface, Schedule.
//
// # The interface
//
// A Schedule holds one learning rate per parameter group (PyTorch's param
// groups): LRs returns them, Step advances one step (passing a metric for
// the schedules that use one), and MarshalBinary/UnmarshalBinary save and
// restore the complete state. Every schedule, Plateau and AutoDrop included,
// reports its rates the same way, through LRs.
//
//	s, err := schedule.Parse([]byte(spec), []float64{0.1}, schedule.ParseOptions{Params: model.Params})
//	for epoch := 0; epoch < epochs; epoch++ {
//		opt.LR = s.LRs()[0]        // the lr for this epoch
//		trainEpoch(model, opt)
//		if err := s.Step(valLoss()); err != nil { // the metric is ignored by
//			return err                             // schedules without one
//		}
//		if epoch%10 == 9 {
//			state, _ := s.MarshalBinary() // save with the checkpoint
//			...
//		}
//	}
//
// To resume, build the schedule with the same arguments (or spec) and call
// UnmarshalBinary with the saved state: it continues bit for bit as if never
// interrupted, including Plateau's best value, patience and cooldown
// counters and AutoDrop's parameter snapshots. A state saved by a schedule
// with other arguments is rejected with an error that shows both. Failed
// calls (a NaN metric, a corrupt state, stepping OneCycle past its end) change
// nothing.
//
// # Conventions
//
// As in PyTorch, LRs right after construction is the rate for step (epoch) 0,
// and after the i-th Step it is the rate for step i. The schedules follow
// PyTorch's recursive ("chainable") formulas and their order of floating-point
// operations; the tests compare them with traces recorded from PyTorch 1.13.1
// at a relative tolerance of 1e-12 (Go's math.Cos may differ from the C
// library's in the last bit).
//
// # Specs
//
// Parse builds a schedule from a JSON spec: "type" selects the schedule and
// the other fields are its arguments, named after PyTorch's in snake case.
// Omitted fields take PyTorch's defaults. An unknown type or field is an
// error listing the valid ones; an invalid value is an *ArgError naming the
// field, its value and what it must be. The same specs are accepted by
// "autodrop schedule" and "autodrop train --schedule". For example:
//
//	{"type": "multistep", "milestones": [30, 60, 80], "gamma": 0.2}
//	{"type": "sequential", "milestones": [5], "schedules": [
//		{"type": "linear", "start_factor": 0.1, "total_iters": 5},
//		{"type": "autodrop", "preset": "cifar"}]}
//
// Every type and field (Types returns the same list):
//
//	type / field          JSON type          default      meaning
//
//	multistep             MultiStepLR: multiply the lr by gamma at each milestone
//	  milestones          list of integers   required     steps at which the lr drops; strictly increasing, >= 1
//	  gamma               number             0.1          multiplier at each milestone; > 0
//
//	step                  StepLR: multiply the lr by gamma every step_size steps
//	  step_size           integer            required     period of the drops; >= 1
//	  gamma               number             0.1          multiplier at each drop; > 0
//
//	exponential           ExponentialLR: multiply the lr by gamma at every step
//	  gamma               number             required     multiplier at each step; > 0
//
//	cosine                CosineAnnealingLR: half cosine from the lr to eta_min over t_max steps
//	  t_max               integer            required     steps from the lr to eta_min; >= 1
//	  eta_min             number             0            lowest lr; >= 0
//
//	cosine_warm_restarts  CosineAnnealingWarmRestarts: cosine restarting after t_0, t_0*t_mult, ... steps
//	  t_0                 integer            required     length of the first period; >= 1
//	  t_mult              integer            1            growth factor of the periods; >= 1
//	  eta_min             number             0            lowest lr; >= 0
//
//	linear                LinearLR: factor from start_factor to end_factor over total_iters steps (warmup)
//	  start_factor        number             1/3          factor at step 0; 0 < start_factor <= 1
//	  end_factor          number             1            factor from step total_iters on; 0 <= end_factor <= 1
//	  total_iters         integer            5            steps to reach end_factor; >= 1
//
//	sequential            SequentialLR: schedules one after another, each starting afresh at its milestone
//	  schedules           list of specs      required     the schedules, in order; any type, including plateau and autodrop
//	  milestones          list of integers   required     steps at which the next schedule takes over; one fewer than schedules, strictly increasing, >= 1
//
//	onecycle              OneCycleLR: up from max_lr/div_factor to max_lr, then down to max_lr/div_factor/final_div_factor
//	  max_lr              number or list     the base lr  peak lr, one for all groups or one per group; > 0
//	  total_steps         integer            required     length of the cycle; >= 1
//	  pct_start           number             0.3          fraction of the cycle spent raising the lr; in [0, 1]
//	  anneal_strategy     string             "cos"        "cos" or "linear"
//	  div_factor          number             25           initial lr = max_lr/div_factor; > 0
//	  final_div_factor    number             1e4          final lr = initial lr/final_div_factor; > 0
//	  three_phase         boolean            false        anneal back to the initial lr before the final lr
//	  cycle_momentum      boolean            true         cycle the momentum inversely to the lr (OneCycle.Momentums)
//	  base_momentum       number             0.85         momentum at the peak lr; 0 <= base_momentum <= max_momentum
//	  max_momentum        number             0.95         momentum at the ends of the cycle
//
//	plateau               ReduceLROnPlateau: multiply the lr by factor when the metric stops improving
//	  mode                string             "min"        "min" (loss) or "max" (accuracy)
//	  factor              number             0.1          multiplier at each reduction; 0 < factor < 1
//	  patience            integer            10           steps without improvement tolerated; >= 0
//	  threshold           number             1e-4         least improvement that counts; >= 0
//	  threshold_mode      string             "rel"        "rel" (relative to the magnitude of best) or "abs"
//	  cooldown            integer            0            steps after a reduction whose bad steps are not counted; >= 0
//	  min_lr              number or list     0            floor of the lr, one for all groups or one per group; >= 0
//	  eps                 number             1e-8         reductions smaller than eps are skipped; >= 0
//
//	constant              keep the lr unchanged (no fields)
//
//	autodrop              AutoDrop: drop the lr when the angular velocity of the parameters saturates
//	  preset              string             "cifar"      "cifar" (drop_factor 0.2, theta 0.01, max_theta 1, min_lr 1e-4,
//	                                                      patience 19, auto_theta and tail_average on, window 1, epsilon 1e-8)
//	                                                      or "imagenet" (the same with drop_factor 0.1): gives the fields not set
//	  drop_factor         number             preset       multiplier at each drop; 0 < drop_factor < 1
//	  theta               number             preset       saturation threshold in degrees; >= 0
//	  max_theta           number             preset       cap on theta under auto_theta; 0 means none
//	  min_lr              number             preset       floor of the lr at a drop; <= the base lr
//	  patience            integer            preset       observations between arming and the drop; >= 0
//	  auto_theta          boolean            preset       raise theta at each drop: theta/drop_factor, capped at max_theta
//	  tail_average        boolean            preset       replace the parameters by their tail average at a drop
//	  window              integer            preset       number of deltas averaged before the test; >= 1 (0 means 1)
//	  epsilon             number             preset       added to the norms' product in the cosine; 0 means 1e-8
//
// AutoDrop has no lr field: like every schedule it starts at the base rates.
// It observes the model's parameters at each Step, so Parse needs
// ParseOptions.Params (or Params64) when the spec contains it.
//
// # Differences from PyTorch
//
// Where PyTorch 1.13 accepts arguments that make no sense or fail later,
// the constructors reject them: milestones must be strictly increasing and
// >= 1 (PyTorch accepts any order and applies a repeated milestone twice);
// gamma, t_max, step_size, total_iters and start_factor must be > 0 (PyTorch
// divides by zero on start_factor 0); no OneCycle phase may have zero length
// (PyTorch divides by zero); plateau's factor must be in (0, 1) and, in mode
// "min" with threshold_mode "rel", its threshold below 1.
//
// Plateau rejects a NaN metric with an error, and its relative threshold is
// taken on |best|, so that negative losses work: PyTorch's best*(1-threshold)
// counts a slightly worse negative loss as an improvement. For best >= 0
// the arithmetic is PyTorch's.
//
// Sequential accepts any Schedule as a child (PyTorch's SequentialLR fails
// with ReduceLROnPlateau, pytorch/pytorch#68978). At its milestone a child
// starts from the state it had at construction; for the closed-form schedules
// this is exactly PyTorch's step(0). The metric of the milestone step,
// measured under the previous schedule, is not passed to the new one.
//
// OneCycle's max_lr defaults to the base lr (it is required in PyTorch), and
// the epochs/steps_per_epoch form of total_steps is not offered. At the one
// step past total_steps-1 that PyTorch 1.13 allows, linear annealing holds
// the final lr and momentum, where PyTorch extrapolates the line (to a
// negative lr with the defaults); cosine annealing continues the curve as in
// PyTorch.
//
// Constant keeps the base rate: it is not PyTorch's ConstantLR, which scales
// the rate by a factor for total_iters steps (a linear schedule with equal
// start_factor and end_factor followed, in a sequential, by constant does
// that).
//
// The epoch argument of PyTorch's step(epoch) is not offered: schedules only
// move forward one step at a time, and resume uses the saved state.
package schedule
