//! The optimizer step alone, one thread: AdamW over a preset model's parameters with random
//! gradients, the one-pass CPU update against the same update as tensor ops (what it replaced,
//! and what other devices run), alternating, medians of 200 steps each (issue 20).
//!
//!     cargo bench -p mixagent-lm --bench adamw

use std::time::Instant;

use mixagent_lm::{AdamW, Llama, ModelConfig};
use tch::{Kind, Tensor};

fn main() {
    tch::set_num_threads(1);
    println!("| preset | parameters | tensor ops ms / step | one pass ms / step | speed-up |");
    println!("|---|---:|---:|---:|---:|");
    for preset in ["smoke", "demo", "study"] {
        let cfg = ModelConfig::preset(preset, 2048).expect("a preset");
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let _model = mixagent_lm::with_seed(0, || Llama::new(&vs.root(), &cfg));
        let params: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        // Gradients once: the step reads them, it does not change them.
        for (_, p) in &params {
            let loss = (p * Tensor::randn(p.size().as_slice(), (Kind::Float, p.device())))
                .sum(Kind::Float);
            loss.backward();
        }
        let named = || params.iter().map(|(n, p)| (n.clone(), p.shallow_clone())).collect();
        let mut ops = AdamW::new(named(), Default::default()).fused(false);
        let mut fused = AdamW::new(named(), Default::default());
        let (mut t_ops, mut t_fused) = (Vec::new(), Vec::new());
        for i in 0..420 {
            let (opt, times) =
                if i % 2 == 0 { (&mut ops, &mut t_ops) } else { (&mut fused, &mut t_fused) };
            let t0 = Instant::now();
            let _ = opt.step(1e-3);
            if i >= 20 {
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
        }
        let n: usize = params.iter().map(|(_, p)| p.numel()).sum();
        let (a, b) = (median(&mut t_ops), median(&mut t_fused));
        println!("| {preset} | {n} | {a:.3} | {b:.3} | {:.2}x |", a / b);
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
