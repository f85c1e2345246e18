"""The plain trl 1.16 SFTTrainer script a user would write instead of the studio (REFERENCE.md's work).

LoRA r=16, alpha=32 on all linear layers; batch 8; lr 5e-4; 20 steps; max length 256; seed 42; fp32;
trl's own defaults otherwise (gradient checkpointing on). Prints one JSON line with train_runtime.
"""

import json
import sys


def main(model_dir: str, data_file: str, out_dir: str, steps: int) -> None:
    from datasets import load_dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    rows = load_dataset("json", data_files=data_file, split="train")
    rows = rows.map(lambda r: {"prompt": [{"role": "user", "content": r["instruction"]}],
                               "completion": [{"role": "assistant", "content": r["output"]}]},
                    remove_columns=rows.column_names)
    args = SFTConfig(output_dir=out_dir, max_steps=steps, per_device_train_batch_size=8, learning_rate=5e-4,
                     max_length=256, seed=42, logging_steps=1, save_strategy="no", report_to="none",
                     use_cpu=True, disable_tqdm=True)
    peft = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model_dir, args=args, train_dataset=rows, peft_config=peft)
    result = trainer.train()
    print(json.dumps({"train_runtime": result.metrics["train_runtime"], "train_loss": result.training_loss}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
