//! What a [`Precision`] means on a device: the tensor kind of the training step's products.
//!
//! On a CPU with bf16 instructions (`avx512_bf16` or AMX) bf16 products run the study proxy's
//! training step about 1.4× faster; on one without them libtorch's bf16 products run 25-100×
//! slower than float32 (BENCHMARKS.md), so `bf16` is refused there and `auto` picks float32.

use mixagent_core::Precision;
use tch::Kind;

use crate::LmError;

/// The kind the training step's matrix products run in under `precision` on `device`.
pub fn matmul_kind(precision: Precision, device: tch::Device) -> Result<Kind, LmError> {
    let fast = device.is_cuda() || cpu_has_bf16();
    match precision {
        Precision::F32 => Ok(Kind::Float),
        Precision::Bf16 if fast => Ok(Kind::BFloat16),
        Precision::Bf16 => Err(LmError::Config(
            "precision = \"bf16\": this CPU has no bf16 instructions (avx512_bf16 or AMX), and \
             bf16 products run 25-100× slower than float32 without them; use precision = \
             \"f32\" or \"auto\""
                .into(),
        )),
        Precision::Auto => Ok(if fast { Kind::BFloat16 } else { Kind::Float }),
    }
}

/// What `precision` resolves to on `device`: `f32` or `bf16`, never `auto` (runs record it, so
/// that a result made under `auto` says which it was).
pub fn resolved_precision(precision: Precision, device: tch::Device) -> Result<Precision, LmError> {
    Ok(precision_of(matmul_kind(precision, device)?))
}

/// The precision whose products run in `kind` (`bf16` for bfloat16, else `f32`).
pub fn precision_of(kind: Kind) -> Precision {
    if kind == Kind::BFloat16 {
        Precision::Bf16
    } else {
        Precision::F32
    }
}

/// Whether this CPU has the bf16 dot-product instructions libtorch's bf16 kernels need
/// (`avx512_bf16`; every CPU with AMX has it too).
pub fn cpu_has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_follows_the_cpu() {
        let cpu = tch::Device::Cpu;
        assert_eq!(matmul_kind(Precision::F32, cpu).unwrap(), Kind::Float);
        let auto = matmul_kind(Precision::Auto, cpu).unwrap();
        if cpu_has_bf16() {
            assert_eq!(matmul_kind(Precision::Bf16, cpu).unwrap(), Kind::BFloat16);
            assert_eq!(auto, Kind::BFloat16);
        } else {
            let e = matmul_kind(Precision::Bf16, cpu).unwrap_err().to_string();
            assert!(e.contains("avx512_bf16") && e.contains("\"auto\""), "{e}");
            assert_eq!(auto, Kind::Float);
        }
    }
}
