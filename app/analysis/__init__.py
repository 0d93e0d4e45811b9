"""What labels say and how good they are: agreement with truth or with another label
file (IoU, Dice), and temperature curves per labeled region."""
