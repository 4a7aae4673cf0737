// Extends the create-plugin style base config in .config/.
module.exports = {
  ...require('./.config/jest.config'),
};
