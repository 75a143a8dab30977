//! Graph VAE: batching, the teacher-forced loss, decoding, learning, conditioning, checkpoints.

use burn::backend::{Autodiff, Flex};
use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use graph_vae::vae::normal_noise;
use graph_vae::*;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use search_space::Nb201Arch;
use set_encoder::SetBatch;

type A = Autodiff<Flex>;

fn device() -> burn::tensor::Device<Flex> {
    Default::default()
}

fn archs(indices: &[usize]) -> Vec<Nb201Arch> {
    indices
        .iter()
        .map(|&i| Nb201Arch::from_index(i).unwrap())
        .collect()
}

fn graphs(indices: &[usize]) -> Vec<TypedGraph> {
    archs(indices)
        .iter()
        .map(|a| Nb201Space.arch_to_graph(a))
        .collect()
}

fn batch<B: Backend>(g: &[TypedGraph]) -> GraphBatch<B> {
    GraphBatch::new(g, 7, 8, &device_of::<B>()).unwrap()
}

fn device_of<B: Backend>() -> B::Device {
    Default::default()
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f32 {
    t.into_data().convert::<f32>().to_vec::<f32>().unwrap()[0]
}

#[test]
fn the_batched_loss_is_the_sum_of_per_graph_losses() {
    let decoder = GraphDecoderConfig::new()
        .with_seed(4)
        .init::<Flex>(&device());
    let g = graphs(&[0, 5, 77, 12_000, 15_624]);
    let z = normal_noise::<Flex, _>(g.len(), 56, &mut ChaCha8Rng::seed_from_u64(1), &device());
    let all = decoder.loss(z.clone(), &batch(&g)).unwrap();
    let (mut types, mut edges) = (0.0, 0.0);
    for (i, one) in g.iter().enumerate() {
        let zi = z.clone().narrow(0, i, 1);
        let l = decoder.loss(zi, &batch(std::slice::from_ref(one))).unwrap();
        types += scalar(l.types);
        edges += scalar(l.edges);
    }
    let (bt, be) = (scalar(all.types), scalar(all.edges));
    assert!(
        (bt - types).abs() < 1e-3 * types.abs().max(1.0),
        "{bt} vs {types}"
    );
    assert!(
        (be - edges).abs() < 1e-3 * edges.abs().max(1.0),
        "{be} vs {edges}"
    );
    // An untrained decoder is near uniform over the 7 types on each of the 7 generated vertices.
    assert!(
        (bt / 5.0 - 7.0 * 7f32.ln()).abs() < 3.0,
        "type NLL per graph {}",
        bt / 5.0
    );
}

#[test]
fn a_vae_learns_to_reconstruct_a_few_cells_exactly() {
    let g = graphs(&[3, 141, 2_718, 9_930, 15_000, 7_777]);
    let data = batch::<A>(&g);
    let mut model = GraphVaeConfig::new().with_seed(1).init::<A>(&device());
    let mut optim = AdamConfig::new().init();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let first = scalar(
        model
            .loss(&data, normal_noise(g.len(), 56, &mut rng, &device()), 1.0)
            .unwrap()
            .total(0.005),
    );
    for _ in 0..150 {
        let eps = normal_noise(g.len(), 56, &mut rng, &device());
        let loss = model.loss(&data, eps, 1.0).unwrap().total(0.005);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let last = scalar(
        model
            .loss(&data, normal_noise(g.len(), 56, &mut rng, &device()), 1.0)
            .unwrap()
            .total(0.005),
    );
    assert!(last < 0.2 * first, "loss {first} → {last}");
    let valid = model.valid();
    let decoded = valid.reconstruct(&batch::<Flex>(&g)).unwrap();
    assert_eq!(decoded, g);
    let back: Vec<Nb201Arch> = decoded
        .iter()
        .map(|d| Nb201Space.graph_to_arch(d).unwrap())
        .collect();
    assert_eq!(back, archs(&[3, 141, 2_718, 9_930, 15_000, 7_777]));
}

#[test]
fn decoding_is_seeded_and_well_formed() {
    let decoder = GraphDecoderConfig::new()
        .with_seed(9)
        .init::<Flex>(&device());
    let z = normal_noise::<Flex, _>(64, 56, &mut ChaCha8Rng::seed_from_u64(2), &device());
    let a = decoder
        .decode(
            z.clone(),
            Decoding::Sample,
            &mut ChaCha8Rng::seed_from_u64(3),
        )
        .unwrap();
    let b = decoder
        .decode(
            z.clone(),
            Decoding::Sample,
            &mut ChaCha8Rng::seed_from_u64(3),
        )
        .unwrap();
    assert_eq!(a, b);
    let greedy1 = decoder
        .decode(
            z.clone(),
            Decoding::Greedy,
            &mut ChaCha8Rng::seed_from_u64(0),
        )
        .unwrap();
    let greedy2 = decoder
        .decode(z, Decoding::Greedy, &mut ChaCha8Rng::seed_from_u64(99))
        .unwrap();
    assert_eq!(greedy1, greedy2);
    for g in a.iter().chain(&greedy1) {
        assert_eq!(g.types[0], 0, "starts with START");
        assert_eq!(*g.types.last().unwrap(), 1, "ends with END");
        assert!(g.len() <= 8);
        assert!(g.edges.iter().all(|&(f, t)| f < t && t < g.len()));
        // END is wired to every vertex that had no successor before it.
        let end = g.len() - 1;
        for v in 0..end {
            assert!(
                g.edges.iter().any(|&(f, _)| f == v),
                "vertex {v} of {g:?} has no successor"
            );
        }
        // Checking never panics: a graph is an arch or a typed reason.
        let _ = Nb201Space.graph_to_arch(g);
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let d = device();
    assert!(matches!(
        GraphBatch::<Flex>::new(&[], 7, 8, &d),
        Err(GraphVaeError::EmptyBatch)
    ));
    let short = TypedGraph::new(vec![0, 2, 1], vec![(0, 1), (1, 2)]);
    let mut g = graphs(&[0]);
    g.push(short);
    assert!(matches!(
        GraphBatch::<Flex>::new(&g, 7, 8, &d),
        Err(GraphVaeError::VertexCount {
            graph: 1,
            expected: 8,
            found: 3
        })
    ));
    let long = TypedGraph::new(vec![2; 9], vec![]);
    assert!(matches!(
        GraphBatch::<Flex>::new(&[long], 7, 8, &d),
        Err(GraphVaeError::TooManyVertices { found: 9, max: 8 })
    ));
    let decoder = GraphDecoderConfig::new().init::<Flex>(&d);
    let z = Tensor::<Flex, 2>::zeros([2, 10], &d);
    assert!(matches!(
        decoder.decode(z, Decoding::Greedy, &mut ChaCha8Rng::seed_from_u64(0)),
        Err(GraphVaeError::Width {
            expected: 56,
            found: 10,
            ..
        })
    ));
    let z = Tensor::<Flex, 2>::zeros([3, 56], &d);
    assert!(decoder.loss(z, &batch(&graphs(&[1, 2]))).is_err());
}

#[test]
fn the_bidirectional_encoder_sees_both_ends() {
    let d = device();
    let uni = GraphEncoderConfig::new().with_seed(2).init::<Flex>(&d);
    let bi = GraphEncoderConfig::new()
        .with_seed(2)
        .with_bidirectional(true)
        .with_hidden(512)
        .init::<Flex>(&d);
    let g = batch::<Flex>(&graphs(&[10, 20, 30]));
    assert_eq!(uni.forward(&g).dims(), [3, 56]);
    let s = bi.forward(&g);
    assert_eq!(s.dims(), [3, 1024]);
    // Different cells, different states.
    let v = s.into_data().to_vec::<f32>().unwrap();
    assert!(v[..1024]
        .iter()
        .zip(&v[1024..2048])
        .any(|(a, b)| (a - b).abs() > 1e-4));
}

/// Two synthetic "datasets" whose image features differ get two different good cells; the
/// conditional generator must learn to tell them apart from the images alone.
#[test]
fn the_conditional_generator_follows_the_dataset() {
    let d = device();
    let targets = graphs(&[9_930, 42]);
    let mut model = ConditionalGeneratorConfig::new(4)
        .with_seed(3)
        .try_init::<A>(&d)
        .unwrap();
    let task = |k: usize, rng: &mut ChaCha8Rng| -> Vec<Vec<f32>> {
        use rand::Rng;
        (0..3)
            .map(|c| {
                (0..5 * 4)
                    .map(|j| if j % 4 == k { 2.0 } else { 0.0 } + 0.1 * c as f32 + 0.3 * rng.random::<f32>())
                    .collect()
            })
            .collect()
    };
    let mut optim = AdamConfig::new().init();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..120 {
        let sets = vec![task(0, &mut rng), task(1, &mut rng)];
        let tasks = SetBatch::<A>::from_classes(4, &sets, &d).unwrap();
        let eps = normal_noise(2, 56, &mut rng, &d);
        let loss = model
            .loss(&tasks, &batch(&targets), eps, 0.01)
            .unwrap()
            .total(0.005);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(5e-3, model, grads);
    }
    let valid = model.valid();
    let sets = vec![task(0, &mut rng), task(1, &mut rng)];
    let tasks = SetBatch::<Flex>::from_classes(4, &sets, &d).unwrap();
    let out = valid.generate(&tasks, Decoding::Greedy, &mut rng).unwrap();
    assert_eq!(out, targets);
}

#[test]
fn a_resumed_training_run_equals_an_uninterrupted_one() {
    let d = device();
    let g = graphs(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    let run = |dir: &std::path::Path, epochs: usize| {
        let config = TrainConfig {
            epochs,
            batch_size: 4,
            seed: 11,
            checkpoint_dir: Some(dir.to_path_buf()),
            ..TrainConfig::default()
        };
        let model = GraphVaeConfig::new().with_seed(1).init::<A>(&d);
        fit(
            model,
            g.len(),
            &config,
            &d,
            |m: &GraphVae<A>, idx: &[usize], rng: &mut ChaCha8Rng| {
                let gs: Vec<TypedGraph> = idx.iter().map(|&i| g[i].clone()).collect();
                let eps = normal_noise(gs.len(), 56, rng, &d);
                m.loss(&batch(&gs), eps, 1.0)
            },
            |_| {},
        )
        .unwrap()
    };
    let tmp = std::env::temp_dir().join(format!("graph-vae-resume-{}", std::process::id()));
    let (a, b) = (tmp.join("a"), tmp.join("b"));
    let (straight, h1) = run(&a, 3);
    run(&b, 1);
    assert_eq!(
        graph_vae::train::latest_checkpoint(&b)
            .unwrap()
            .unwrap()
            .file_name()
            .unwrap(),
        "epoch-00000"
    );
    let (resumed, h2) = run(&b, 3);
    assert_eq!(h1.len(), 3);
    assert_eq!(h2.len(), 3);
    assert_eq!(h1[2].loss, h2[2].loss);
    let params = |m: GraphVae<A>| -> Vec<f32> {
        m.valid()
            .fc_mu
            .weight
            .val()
            .into_data()
            .to_vec::<f32>()
            .unwrap()
    };
    assert_eq!(params(straight), params(resumed));
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn a_missing_checkpoint_is_reported() {
    let dir = std::env::temp_dir().join(format!("graph-vae-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("latest"), "epoch-00007").unwrap();
    assert!(matches!(
        graph_vae::train::latest_checkpoint(&dir),
        Err(GraphVaeError::Checkpoint { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn decoders_round_trip_through_records() {
    let d = device();
    let a = GraphDecoderConfig::new().with_seed(1).init::<Flex>(&d);
    let b = GraphDecoderConfig::new()
        .with_seed(2)
        .init::<Flex>(&d)
        .load_record(a.clone().into_record());
    let z = Tensor::<Flex, 2>::from_data(TensorData::new(vec![0.3f32; 2 * 56], [2, 56]), &d);
    let mut r = ChaCha8Rng::seed_from_u64(0);
    assert_eq!(
        a.decode(z.clone(), Decoding::Greedy, &mut r).unwrap(),
        b.decode(z, Decoding::Greedy, &mut r).unwrap()
    );
}

fn any_graph() -> impl Strategy<Value = TypedGraph> {
    (1usize..10)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec(0u8..10, n),
                proptest::collection::vec((0usize..10, 0usize..10), 0..20),
            )
        })
        .prop_map(|(t, e)| TypedGraph::new(t, e))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary graphs are packed or rejected with a typed error, never a panic; packed ones
    /// encode to finite states.
    #[test]
    fn arbitrary_graphs_never_panic(gs in proptest::collection::vec(any_graph(), 1..4)) {
        let d = device();
        if let Ok(b) = GraphBatch::<Flex>::new(&gs, 7, 8, &d) {
            let enc = GraphEncoderConfig::new().with_hidden(8).init::<Flex>(&d);
            let s = enc.forward(&b).into_data().to_vec::<f32>().unwrap();
            prop_assert!(s.iter().all(|v| v.is_finite()));
        }
        for g in &gs {
            let _ = Nb201Space.graph_to_arch(g);
        }
    }
}
