fn main() {
    let inputs = ["(202) 555-0143", "+1 312 861 7888", "010-9843-0251", "+84 91 47345929", "832.618.0754"];
    for i in inputs {
        let t = std::time::Instant::now();
        let n = 2000;
        for _ in 0..n {
            std::hint::black_box(dossier_match::normalize::phone::normalize_guessing(i, Some("US")).ok());
        }
        println!("{i:>20}: {:.1} µs", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
}
