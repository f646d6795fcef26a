throw new Error('this bundle refuses to load');
