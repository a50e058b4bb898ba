//! Forward + backward of one 3×3 convolution layer on 128 channels-last images: the project's im2col
//! (`model_zoo::model::conv3x3_nhwc`) against candle's `conv2d` (NCHW), at the three stage sizes of the
//! Fashion-MNIST CNN with widths 16-32-64.
//!
//! `cargo bench -p model-zoo --bench conv -- --warm-up-time 1 --measurement-time 3`

use candle_core::{Device, Tensor, Var};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let dev = Device::Cpu;
    let mut g = c.benchmark_group("conv3x3_fwd_bwd_b128");
    g.sample_size(10);
    for (h, ch) in [(28usize, 16usize), (14, 32), (7, 64)] {
        let x = Var::from_tensor(&Tensor::ones((128, h, h, ch), candle_core::DType::F32, &dev).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
        let w = Var::from_tensor(&Tensor::full(0.01f32, (ch, ch, 3, 3), &dev).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
        g.bench_function(format!("im2col_{h}x{h}x{ch}"), |b| {
            b.iter(|| {
                let y = model_zoo::model::conv3x3_nhwc(x.as_tensor(), w.as_tensor()).and_then(|y| y.sqr()?.sum_all()?.backward());
                std::hint::black_box(y.is_ok())
            })
        });
        let xn = x.as_tensor().permute((0, 3, 1, 2)).and_then(|t| t.contiguous()).unwrap_or_else(|e| panic!("{e}"));
        let xn = Var::from_tensor(&xn).unwrap_or_else(|e| panic!("{e}"));
        g.bench_function(format!("candle_conv2d_{h}x{h}x{ch}"), |b| {
            b.iter(|| {
                let y = xn.as_tensor().conv2d(w.as_tensor(), 1, 1, 1, 1).and_then(|y| y.sqr()?.sum_all()?.backward());
                std::hint::black_box(y.is_ok())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
