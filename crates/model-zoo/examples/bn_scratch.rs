use std::time::Instant;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Distribution, Tensor};
use search_space::network::{BatchNorm2dConfig, BnMode};

type AD = Autodiff<Flex>;

fn time<F: FnMut()>(name: &str, iters: usize, mut f: F) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..iters { f(); }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / iters as f64;
    println!("{name:50} {ms:8.3} ms");
    ms
}

fn main() {
    let device = Default::default();
    let shape = [64usize, 8, 16, 16];
    let [bs, c, h, w] = shape;
    let x0 = Tensor::<AD, 4>::random(shape, Distribution::Normal(1.0, 2.0), &device);
    let ours = BatchNorm2dConfig::new(c).init::<AD>(&device);
    let iters = 30;
    let y0 = Tensor::<AD, 4>::random(shape, Distribution::Normal(1.0, 2.0), &device);
    time("a x*x0 (x0 const)", iters, || { let x = x0.clone().require_grad(); let _ = (x * y0.clone()).sum().backward(); });
    time("b x*y both grad", iters, || { let x = x0.clone().require_grad(); let y = y0.clone().require_grad(); let _ = (x * y).sum().backward(); });
    time("c x*x", iters, || { let x = x0.clone().require_grad(); let _ = (x.clone() * x).sum().backward(); });
    time("d powf 2", iters, || { let x = x0.clone().require_grad(); let _ = x.powf_scalar(2.0).sum().backward(); });
    time("e x used twice: (x + x).sum", iters, || { let x = x0.clone().require_grad(); let _ = (x.clone() + x).sum().backward(); });
    time("f x*x0 then *y0 ", iters, || { let x = x0.clone().require_grad(); let _ = (x * y0.clone() * y0.clone()).sum().backward(); });
    time("g x.mul_scalar(2).sum", iters, || { let x = x0.clone().require_grad(); let _ = (x * 2.0).sum().backward(); });
    time("h exp", iters, || { let x = x0.clone().require_grad(); let _ = x.exp().sum().backward(); });
    time("i fwd only x*y", iters, || { let _ = x0.clone() * y0.clone(); });
    time("j (x*y0).mean()", iters, || { let x = x0.clone().require_grad(); let _ = (x * y0.clone()).mean().backward(); });
    time("k (x*y0*y0)", iters, || { let x = x0.clone().require_grad(); let _ = ((x * y0.clone()) * y0.clone()).sum().backward(); });
    time("l relu(x)*y0", iters, || { let x = x0.clone().require_grad(); let _ = (burn::tensor::activation::relu(x) * y0.clone()).sum().backward(); });
    time("m x*y0 + x", iters, || { let x = x0.clone().require_grad(); let _ = (x.clone() * y0.clone() + x).sum().backward(); });
    let _ = (ours, bs, c, h, w);
}
