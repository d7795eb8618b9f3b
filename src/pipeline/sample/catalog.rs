//! The generated product catalogue: ~30 apparel classes with their own return rates, SKUs within
//! each class, and the SKU-constant tail of every line (Q_CLS_ID .. SIZE_) rendered once.

use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// (class code and name, division index, line return rate, product nouns).
const CLASSES: [(&str, usize, f64, &str); 30] = [
    ("8101:FP DRESSES (NA)", 0, 0.34, "MAXI DRESS|SLIP DRESS|MINI DRESS"),
    ("8102:FP JUMPSUITS (NA)", 0, 0.30, "JUMPSUIT|ROMPER|OVERALL"),
    ("8105:FP DENIM (NA)", 0, 0.32, "HIGH RISE JEAN|FLARE JEAN|DENIM SHORT"),
    ("8108:FP PANTS (NA)", 0, 0.26, "WIDE LEG PANT|CARGO PANT|TROUSER"),
    ("8110:FP SKIRTS (NA)", 0, 0.22, "MIDI SKIRT|MINI SKIRT|TIERED SKIRT"),
    ("8112:FP KNIT TOPS (NA)", 0, 0.14, "RIB TEE|TANK|LONG SLEEVE TEE"),
    ("8114:FP WOVEN TOPS (NA)", 0, 0.18, "BLOUSE|BUTTON DOWN|PEASANT TOP"),
    ("8116:FP SWEATERS (NA)", 0, 0.20, "CARDIGAN|PULLOVER|CROPPED SWEATER"),
    ("8118:FP JACKETS (NA)", 0, 0.24, "SHACKET|DENIM JACKET|BLAZER"),
    ("8120:FP OUTERWEAR (NA)", 0, 0.27, "PUFFER|TRENCH|WOOL COAT"),
    ("8125:FP SHORTS (NA)", 0, 0.19, "RIB CAGE SHORT|BIKE SHORT|LINEN SHORT"),
    ("8130:FP SETS (NA)", 0, 0.23, "KNIT SET|LOUNGE SET|MATCHING SET"),
    ("8201:FP BRAS (NA)", 1, 0.29, "BRALETTE|PLUNGE BRA|SPORTS BRA"),
    ("8202:FP UNDERWEAR (NA)", 1, 0.06, "BRIEF|THONG|BOYSHORT"),
    ("8204:FP SLEEPWEAR (NA)", 1, 0.12, "SLEEP SET|NIGHTGOWN|PAJAMA PANT"),
    ("8206:FP LOUNGE (NA)", 1, 0.13, "JOGGER|HOODIE|LOUNGE SHORT"),
    ("8208:FP BODYSUITS (NA)", 1, 0.21, "BODYSUIT|CAMI BODYSUIT|LACE BODYSUIT"),
    ("8210:FP SWIM (NA)", 1, 0.31, "BIKINI TOP|BIKINI BOTTOM|ONE PIECE"),
    ("8301:FP BOOTS (NA)", 2, 0.35, "ANKLE BOOT|WESTERN BOOT|TALL BOOT"),
    ("8302:FP SANDALS (NA)", 2, 0.25, "SLIDE|STRAPPY SANDAL|PLATFORM SANDAL"),
    ("8304:FP SNEAKERS (NA)", 2, 0.28, "LOW TOP SNEAKER|RUNNER|HIGH TOP"),
    ("8306:FP FLATS (NA)", 2, 0.24, "BALLET FLAT|MULE|LOAFER"),
    ("8401:FP BAGS (NA)", 3, 0.10, "TOTE|CROSSBODY|BACKPACK"),
    ("8402:FP JEWELRY (NA)", 3, 0.05, "HOOP EARRING|NECKLACE|RING STACK"),
    ("8404:FP HATS (NA)", 3, 0.08, "BUCKET HAT|BEANIE|FEDORA"),
    ("8406:FP HAIR (NA)", 3, 0.04, "CLAW CLIP|SCRUNCHIE|HEADBAND"),
    ("8408:FP BELTS (NA)", 3, 0.09, "LEATHER BELT|CHAIN BELT|WRAP BELT"),
    ("8410:FP SOCKS (NA)", 3, 0.03, "CREW SOCK|TIGHTS|KNEE SOCK"),
    ("8501:FP MOVEMENT TOPS (NA)", 4, 0.16, "TRAINING TANK|SPORTS TEE|HALF ZIP"),
    ("8502:FP MOVEMENT BOTTOMS (NA)", 4, 0.20, "LEGGING|RUNNING SHORT|FLARE LEGGING"),
];

const DIVISIONS: [&str; 5] = [
    "081:FP APPAREL DIVISION (NA)",
    "082:FP INTIMATES DIVISION (NA)",
    "083:FP SHOES DIVISION (NA)",
    "084:FP ACCESSORIES DIVISION (NA)",
    "085:FP MOVEMENT DIVISION (NA)",
];

const BRANDS: [&str; 5] =
    ["FREE PEOPLE (NA)", "FP MOVEMENT (NA)", "INTIMATELY FP (NA)", "FP BEACH (NA)", "FP ONE (NA)"];

const ADJECTIVES: [&str; 10] =
    ["", "LINEN ", "VINTAGE ", "RIBBED ", "SEAMLESS ", "CROCHET ", "SATIN ", "WASHED ", "", ""];

const COLOURS: [(&str, &str); 10] = [
    ("0011", "IVORY (NA)"),
    ("0001", "BLACK (NA)"),
    ("0040", "BLUE (NA)"),
    ("0060", "RED (NA)"),
    ("0030", "GREEN (NA)"),
    ("0020", "BROWN (NA)"),
    ("0070", "PINK (NA)"),
    ("0004", "GREY (NA)"),
    ("0012", "CREAM (NA)"),
    ("0050", "PURPLE (NA)"),
];

const APPAREL_SIZES: [&str; 6] = ["XS", "S", "M", "L", "XL", "0"];
const SHOE_SIZES: [&str; 6] = ["6", "7", "7.5", "8", "9", "10"];

/// SKUs generated per class.
pub const SKUS_PER_CLASS: usize = 60;

/// One class of the catalogue.
pub struct ClassInfo {
    /// Probability that a line of this class comes back, before customer behaviour.
    pub return_rate: f64,
}

/// One SKU and its pre-rendered constant columns.
pub struct Sku {
    /// The SKU code, e.g. `65959058` (written quoted, as real extracts do).
    pub code: String,
    /// Index of its class in [`Catalog::classes`].
    pub class: usize,
    /// `Q_CLS_ID,Q_SKU_DESC,Q_GMM_ID,Q_SKU_ID` without a trailing comma.
    pub head: String,
    /// The quoted CLASS_ field.
    pub class_field: String,
    /// `DIVISION_,BRAND_,Q_CLR_DNUM,Q_CLR_DESC,VENDOR_STYLE,SIZE_`.
    pub rest: String,
}

/// The whole catalogue.
pub struct Catalog {
    pub classes: Vec<ClassInfo>,
    /// Every SKU; SKU `j` of class `c` is at `c * SKUS_PER_CLASS + j`.
    pub skus: Vec<Sku>,
    /// Mean of the class return rates.
    pub mean_return_rate: f64,
    /// Class indices sorted by return rate, highest first.
    pub by_return_rate: Vec<usize>,
}

/// Quote a CSV field when it holds a comma or a quote.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

impl Catalog {
    /// Build the catalogue from `rng` (its draws make the catalogue part of the seed).
    pub fn generate(rng: &mut Xoshiro256PlusPlus) -> Self {
        let classes: Vec<ClassInfo> =
            CLASSES.iter().map(|c| ClassInfo { return_rate: c.2 }).collect();
        let mut skus = Vec::with_capacity(CLASSES.len() * SKUS_PER_CLASS);
        for (c, &(name, division, _, nouns)) in CLASSES.iter().enumerate() {
            let nouns: Vec<&str> = nouns.split('|').collect();
            let class_id = 2_600_001 + 17 * c as u64;
            for j in 0..SKUS_PER_CLASS {
                skus.push(Self::sku(rng, c, j, name, division, &nouns, class_id));
            }
        }
        let mean_return_rate =
            classes.iter().map(|c| c.return_rate).sum::<f64>() / classes.len() as f64;
        let mut by_return_rate: Vec<usize> = (0..classes.len()).collect();
        by_return_rate.sort_by(|&a, &b| classes[b].return_rate.total_cmp(&classes[a].return_rate));
        Catalog { classes, skus, mean_return_rate, by_return_rate }
    }

    fn sku(
        rng: &mut Xoshiro256PlusPlus,
        class: usize,
        index: usize,
        class_name: &str,
        division: usize,
        nouns: &[&str],
        class_id: u64,
    ) -> Sku {
        let code = format!("{}", 60_000_000 + class * 100_000 + index * 97 + rng.gen_range(0..97));
        let noun = nouns[rng.gen_range(0..nouns.len())];
        let adjective = ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())];
        // A few descriptions carry a comma, as real ones do ("TOP, LONG SLEEVE").
        let desc = if rng.gen_bool(0.08) {
            format!("{noun}, {}", adjective.trim_end())
        } else {
            format!("{adjective}{noun}")
        };
        let q_sku_id: i64 = rng.gen_range(-999_999_999..999_999_999);
        let (dnum, colour) = COLOURS[rng.gen_range(0..COLOURS.len())];
        let sizes = if division == 2 { &SHOE_SIZES } else { &APPAREL_SIZES };
        let size = sizes[rng.gen_range(0..sizes.len())];
        let style = format!("{:05}-{:04}", rng.gen_range(10_000..99_999), rng.gen_range(1..9_999));
        let brand = BRANDS[if division == 4 { 1 } else { rng.gen_range(0..BRANDS.len()) }];
        Sku {
            code,
            class,
            head: format!(
                "{class_id},{},{},{q_sku_id}",
                csv_field(desc.trim()),
                400_001 + division as u64
            ),
            class_field: format!("\"{class_name}\""),
            rest: format!(
                "\"{}\",{brand},\"{dnum}\",{colour},\"{style}\",{size}",
                DIVISIONS[division]
            ),
        }
    }
}
