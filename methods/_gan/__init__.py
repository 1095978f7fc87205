"""Shared GAN training machinery for the GAN plugins (HealthyGAN, SAGAN).

A method keeps its math (networks, losses) and plugs two loss functions into one loop; the loop owns the rest:
n_critic scheduling, bf16 autocast / channels_last / compile (on CUDA only with `accel=auto`, everywhere with
`accel=on`, nowhere with `accel=off`; `accel.Accel`), loss log (CSV, and
TensorBoard when installed), progress bar, atomic checkpoints with exact resume (modules, optimisers,
iteration, every RNG, the batch sampler), divergence handling (non-finite losses: restore the last checkpoint
and halve the lr once; a second time raise `DivergenceError`) and checkpoint selection (`last`, `val-auc`,
`fid`, `aucp`).

A GAN plugin is three pieces on top of it (HealthyGAN and SAGAN are complete examples):
- `detector.GANDetector`: subclass it, set `recipe`, write `_translate` (x -> x') and `_save_samples` (the
  sample grid); fit, scoring, run facts and the saved state are shared.
- `trainer.GANRecipe`: the generator builder, the size the networks work at, the batch keys and the steps; the
  shared `trainer.train` driver does the FID hold-out, the device-resident sets, the sampler and the loop.
- `trainer.AdversarialSteps`: subclass it with the method's `d_step` / `g_step` (its losses); the PatchGAN
  critic is `networks.Critic`.

The loop on its own, for other uses::

    from bench.methods._gan import (Accel, DeviceSampler, GANLoop, LoopSettings, critic_loss_gp,
                                    generator_adversarial_loss, images_to_device, make_selector)

    class MySteps:                          # satisfies the GANSteps protocol
        best_modules = ("G",)               # what selection keeps for inference
        def __init__(self, G, D, cfg):
            self.modules = {"G": G, "D": D}
            self.optimizers = {"G": Adam(G.parameters(), ...), "D": Adam(D.parameters(), ...)}
        def d_step(self, batch, *, g_step_follows):   # batch: {"A": float [-1, 1], "B": ...} on the device
            with torch.no_grad():
                fake = self.G(batch["A"])
            return critic_loss_gp(self.D, real=batch["B"], fake=fake)   # {"loss", "d_real", "d_fake", "gp"}
        def g_step(self, batch):
            adv = generator_adversarial_loss(self.D(self.G(batch["A"])))
            return {"loss": adv + ..., "adv": adv.detach(), ...}

    accel = Accel.for_device(device, amp=cfg.amp, channels_last=cfg.channels_last, compile=cfg.compile,
                             mode=cfg.accel)
    sets = {"A": images_to_device(unlabeled, accel.device, size=64), "B": images_to_device(normal, ...)}
    sampler = DeviceSampler(sets, cfg.batch_size, seed=seed, channels=1, hflip=True)
    loop = GANLoop(MySteps(...), sampler, LoopSettings(iterations=..., n_critic=2, checkpoint_every=...),
                   accel=accel, folder=workdir, identity=fingerprint(config, data_ids),
                   selector=make_selector(...) or None, progress=progress)
    result = loop.run()      # resumes from workdir/checkpoints/last.pt; leaves the selected weights loaded

Contract details:
- `d_step`/`g_step` run inside the loop's autocast; the loop calls `backward()` on `losses["loss"]` and steps
  `optimizers["D"]` / `optimizers["G"]`. Other entries are logged under their own names (keep them distinct
  between D and G); the totals appear as `D` and `G`. During the G step the critic's parameters are frozen.
- One iteration = one D step; the G step runs on the same batch when `(iteration + 1) % n_critic == 0`.
- Randomness inside the steps must come from torch's global RNG (or the sampler's generator): both are
  checkpointed, so a resumed CPU run gives the same weights as an uninterrupted one.
- Files in `folder`: `checkpoints/last.pt` (resume point), `checkpoints/best.pt` (selected weights),
  `losses.csv`, `tensorboard/` (if installed). `folder=None` trains in a temporary folder (no resume).
- The speed features follow `Accel.for_device(..., mode=config.accel)`: with the default `auto` a CPU run stays
  fp32 eager; `on` runs them on CPU too (bf16 autocast on CPU, inductor), as the tests do.
"""

from bench.methods._gan.accel import Accel, eval_mode
from bench.methods._gan.data import DeviceSampler, hold_out, ids_digest, images_to_device, split_holdout, to_unit_range
from bench.methods._gan.fid import InceptionFeatures, fid_from_features, frechet_distance
from bench.methods._gan.loop import DivergenceError, GANLoop, GANSteps, LoopSettings, TrainResult, fingerprint
from bench.methods._gan.samples import save_sample_grid
from bench.methods._gan.selection import (
    POLICIES,
    AUCpSelector,
    FIDSelector,
    SelectionSetup,
    SelectionTracker,
    Selector,
    ValAUCSelector,
    make_selector,
    setup_selection,
)
from bench.methods._gan.wgan import (
    LAMBDA_GP,
    critic_loss,
    critic_loss_gp,
    generator_adversarial_loss,
    gradient_penalty,
)

__all__ = [
    "LAMBDA_GP", "POLICIES", "AUCpSelector", "Accel", "DeviceSampler", "DivergenceError", "FIDSelector", "GANLoop",
    "GANSteps",
    "InceptionFeatures", "LoopSettings", "SelectionTracker", "Selector", "TrainResult", "ValAUCSelector",
    "critic_loss", "critic_loss_gp", "eval_mode", "fid_from_features", "fingerprint", "frechet_distance",
    "generator_adversarial_loss", "gradient_penalty", "images_to_device", "make_selector", "save_sample_grid",
    "hold_out", "ids_digest", "setup_selection", "SelectionSetup", "split_holdout", "to_unit_range",
]
